"""Request outcomes into HDR histograms (µs, 3 significant digits) and per-second ticks.

vbench's own players record each answer directly (`record`); the requests of a custom
locustfile's users come through Locust's `request` event hook (`on_request`), so any
user class whose requests pass `context={"intended_start": <time.perf_counter() value>}`
is measured from its intended send time (coordinated-omission corrected); without it
latency equals service time. Requests with `context={"warm_up": True}` are ignored.
Every other completed request is recorded whatever its outcome, as wrk2 and Locust do,
and its outcome is counted apart (ok, error, rejected = 429).
No gevent here: it runs in the generator's single thread and is tested on its own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from veltrix_bench.hdr import HIGHEST_US, LOWEST_US, new_histogram, values_at_percentiles
from veltrix_bench.load.arrival import LateCause
from veltrix_bench.load.protocol import Tick

MAX_ERROR_SAMPLES = 10


class Outcome(StrEnum):
    OK = "ok"
    ERROR = "error"
    REJECTED = "rejected"


def outcome_of(status_code: int, exception: object) -> Outcome:
    """429 (queue full) is a rejection, not an error; any other failure is an error."""
    if status_code == 429:
        return Outcome.REJECTED
    if exception is not None or not 200 <= status_code < 300:
        return Outcome.ERROR
    return Outcome.OK


def _ms(microseconds: float) -> float:
    return round(microseconds / 1000.0, 3)


def _clamp_us(value: float) -> int:
    # comparisons rather than min/max/round: this runs 50 times a second (the loop's lag)
    microseconds = int(value + 0.5)
    if microseconds < LOWEST_US:
        return LOWEST_US
    return microseconds if microseconds < HIGHEST_US else HIGHEST_US


def record_all(histogram: HdrHistogram, values_us: Sequence[float]) -> None:
    """What `histogram.record_value(_clamp_us(v))` does for every v, in a few numpy passes.

    HdrHistogram_py records in Python (~1 µs and five calls per value); a generator records
    three values per request. So a request appends its raw values to lists, and once per
    interval they go in here: the same clamping, the same bucket arithmetic as the
    library's `_counts_index_for` (a test pins the two together), one bincount.
    """
    if not values_us:
        return
    values = np.clip(np.floor(np.asarray(values_us, dtype=np.float64) + 0.5), LOWEST_US, HIGHEST_US)
    microseconds = values.astype(np.int64)
    # bit length of (v | sub_bucket_mask): frexp's exponent, exact for integers below 2**53
    _, bit_length = np.frexp((microseconds | histogram.sub_bucket_mask).astype(np.float64))
    bucket = bit_length - histogram.unit_magnitude - (histogram.sub_bucket_half_count_magnitude + 1)
    sub_bucket = microseconds >> (bucket + histogram.unit_magnitude)
    index = (
        ((bucket + 1) << histogram.sub_bucket_half_count_magnitude)
        + sub_bucket
        - histogram.sub_bucket_half_count
    )
    size = histogram.counts_len
    counts = np.ctypeslib.as_array(histogram.counts)[:size]
    counts += np.bincount(index, minlength=size)[:size].astype(counts.dtype)
    histogram.total_count += len(microseconds)
    histogram.min_value = min(histogram.min_value, int(microseconds.min()))
    histogram.max_value = max(histogram.max_value, int(microseconds.max()))


class _Counts:
    def __init__(self) -> None:
        self.requests = 0
        self.ok = 0
        self.errors = 0
        self.rejected = 0
        self.late_cap = 0
        self.late_generator = 0

    def plus(self, other: _Counts) -> _Counts:
        total = _Counts()
        for name in vars(total):
            setattr(total, name, getattr(self, name) + getattr(other, name))
        return total

    def add_late(self, cause: LateCause) -> None:
        if cause is LateCause.IN_FLIGHT_CAP:
            self.late_cap += 1
        else:
            self.late_generator += 1


class Recorder:
    """Whole-run and per-second histograms and counts of one generator process."""

    def __init__(self) -> None:
        # A request appends its values to the pending lists; each interval they go into the
        # interval histograms at once (record_all), and a closed interval is added to the
        # whole-run ones (one C-level array add): the generator's CPU is the load's ceiling.
        self._closed_latency = new_histogram()
        self._closed_service = new_histogram()
        self._interval_latency = new_histogram()
        self._interval_service = new_histogram()
        self._pending_latency: list[float] = []
        self._pending_service: list[float] = []
        self._pending_start_delay: list[float] = []
        self._closed = _Counts()
        self._interval = _Counts()
        self.started = 0
        self._start_delay = new_histogram()
        self.loop_lag = new_histogram()
        self._interval_loop_lag_max: float | None = None
        self.error_samples: list[str] = []

    @property
    def latency(self) -> HdrHistogram:
        """Whole-run intended-time latency (closed intervals plus the open one)."""
        self._flush()
        return _sum_of(self._closed_latency, self._interval_latency)

    @property
    def service(self) -> HdrHistogram:
        """Whole-run service time (closed intervals plus the open one)."""
        self._flush()
        return _sum_of(self._closed_service, self._interval_service)

    @property
    def start_delay(self) -> HdrHistogram:
        """Open model: actual send minus intended send time (timer precision, caps)."""
        self._flush()
        return self._start_delay

    @property
    def total(self) -> _Counts:
        """Whole-run counts (closed intervals plus the open one)."""
        return self._closed.plus(self._interval)

    @property
    def in_flight(self) -> int:
        return self.started - self._closed.requests - self._interval.requests

    def note_started(self) -> None:
        self.started += 1

    def note_start_delay(self, delay_s: float) -> None:
        self._pending_start_delay.append(delay_s * 1_000_000.0)

    def note_loop_lag(self, lag_s: float) -> None:
        self.loop_lag.record_value(_clamp_us(lag_s * 1_000_000.0))
        self._interval_loop_lag_max = max(self._interval_loop_lag_max or 0.0, lag_s)

    def note_late(self, cause: LateCause) -> None:
        self._interval.add_late(cause)

    def record(self, latency_us: float, service_us: float, outcome: Outcome) -> None:
        self._pending_latency.append(latency_us)
        self._pending_service.append(service_us)
        counts = self._interval
        counts.requests += 1
        if outcome is Outcome.OK:
            counts.ok += 1
        elif outcome is Outcome.REJECTED:
            counts.rejected += 1
        else:
            counts.errors += 1

    def _flush(self) -> None:
        """The pending values into the histograms."""
        record_all(self._interval_latency, self._pending_latency)
        record_all(self._interval_service, self._pending_service)
        record_all(self._start_delay, self._pending_start_delay)
        self._pending_latency.clear()
        self._pending_service.clear()
        self._pending_start_delay.clear()

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int,
        response: Any = None,
        context: dict[str, Any] | None = None,
        exception: BaseException | None = None,
        **_: Any,
    ) -> None:
        """Locust `request` event listener; fires right after the response was read."""
        now = time.perf_counter()
        if context and context.get("warm_up"):
            return
        service_us = (response_time or 0.0) * 1000.0
        intended = (context or {}).get("intended_start")
        latency_us = (now - intended) * 1_000_000.0 if intended is not None else service_us
        status = int(getattr(response, "status_code", 0) or 0)
        outcome = outcome_of(status, exception)
        self.record(latency_us, service_us, outcome)
        if outcome is Outcome.ERROR and len(self.error_samples) < MAX_ERROR_SAMPLES:
            self._sample_error(name, status, response, exception)

    def _sample_error(
        self, name: str, status: int, response: Any, exception: BaseException | None
    ) -> None:
        body = getattr(response, "content", None) or b""
        self.sample_error(name, status, body if isinstance(body, bytes) else b"", exception)

    def sample_error(
        self, name: str, status: int, body: bytes, exception: BaseException | None
    ) -> None:
        """Keep a few distinct failures (`name`: what was requested) to show the user."""
        if len(self.error_samples) >= MAX_ERROR_SAMPLES:
            return
        if status:
            message = f"{name}: HTTP {status} {body[:100].decode('utf-8', 'replace')}".strip()
        else:
            message = f"{name}: {type(exception).__name__}: {exception}"
        message = message[:200]
        if message not in self.error_samples:
            self.error_samples.append(message)

    def close_interval(
        self, end_s: float, target_rate: float | None
    ) -> tuple[Tick, HdrHistogram, HdrHistogram]:
        """End the interval at `end_s` seconds into the window: its tick, and its latency and
        service histograms (for the hlog files and the merge); the next interval starts empty."""
        self._flush()
        interval_latency, interval_service = self._interval_latency, self._interval_service
        _add(self._closed_latency, interval_latency)
        _add(self._closed_service, interval_service)
        counts = self._interval
        latency = percentiles(interval_latency, (50, 90, 99))
        service = percentiles(interval_service, (50, 99))
        tick = Tick(
            t=round(end_s, 3),
            requests=counts.requests,
            ok=counts.ok,
            errors=counts.errors,
            rejected=counts.rejected,
            target_rate=target_rate,
            in_flight=self.in_flight,
            late_cap=counts.late_cap,
            late_generator=counts.late_generator,
            p50_ms=latency[0],
            p90_ms=latency[1],
            p99_ms=latency[2],
            service_p50_ms=service[0],
            service_p99_ms=service[1],
            loop_lag_ms=(
                None
                if self._interval_loop_lag_max is None
                else round(self._interval_loop_lag_max * 1000.0, 3)
            ),
        )
        # fresh histograms are cheaper than reset() (which walks every counter in Python)
        self._interval_latency = new_histogram()
        self._interval_service = new_histogram()
        self._closed = self._closed.plus(counts)
        self._interval = _Counts()
        self._interval_loop_lag_max = None
        return tick, interval_latency, interval_service


def _sum_of(*histograms: HdrHistogram) -> HdrHistogram:
    total = new_histogram()
    for histogram in histograms:
        _add(total, histogram)
    return total


def _add(total: HdrHistogram, histogram: HdrHistogram) -> None:
    # an empty histogram reports a minimum of 0, which add() would carry into the total
    if histogram.get_total_count():
        total.add(histogram)


def percentiles(histogram: HdrHistogram, wanted: tuple[int, ...]) -> list[float | None]:
    """Those percentiles in ms, or Nones when the histogram is empty."""
    if histogram.get_total_count() == 0:
        return [None] * len(wanted)
    return [_ms(value) for value in values_at_percentiles(histogram, wanted)]
