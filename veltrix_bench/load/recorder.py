"""Request outcomes into HDR histograms (µs, 3 significant digits) and per-second ticks.

Fed from Locust's `request` event hook (`on_request`), so any user class whose requests
pass `context={"intended_start": <time.perf_counter() value>}` is measured from its
intended send time (coordinated-omission corrected); without it latency equals service
time. Requests with `context={"warm_up": True}` are ignored. Every other completed
request is recorded whatever its outcome, as wrk2 and Locust do, and its outcome is
counted apart (ok, error, rejected = 429).
No gevent here: it runs in the generator's single thread and is tested on its own.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

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
    # comparisons rather than min/max/round: this runs for every request
    microseconds = int(value + 0.5)
    if microseconds < LOWEST_US:
        return LOWEST_US
    return microseconds if microseconds < HIGHEST_US else HIGHEST_US


class _Counts:
    def __init__(self) -> None:
        self.requests = 0
        self.ok = 0
        self.errors = 0
        self.rejected = 0
        self.late_cap = 0
        self.late_generator = 0

    def add(self, outcome: Outcome) -> None:
        self.requests += 1
        if outcome is Outcome.OK:
            self.ok += 1
        elif outcome is Outcome.REJECTED:
            self.rejected += 1
        else:
            self.errors += 1

    def add_late(self, cause: LateCause) -> None:
        if cause is LateCause.IN_FLIGHT_CAP:
            self.late_cap += 1
        else:
            self.late_generator += 1


class Recorder:
    """Whole-run and per-second histograms and counts of one generator process."""

    def __init__(self) -> None:
        # Each request goes into the interval histograms only; a closed interval is added
        # to the whole-run ones (one C-level array add per second instead of two more
        # record_value calls per request: the generator's own CPU is the load's ceiling).
        self._closed_latency = new_histogram()
        self._closed_service = new_histogram()
        self._interval_latency = new_histogram()
        self._interval_service = new_histogram()
        self.total = _Counts()
        self._interval = _Counts()
        self.started = 0
        self.start_delay = new_histogram()
        """Open model: actual send minus intended send time (timer precision, caps)."""
        self.loop_lag = new_histogram()
        self._interval_loop_lag_max: float | None = None
        self.error_samples: list[str] = []

    @property
    def latency(self) -> HdrHistogram:
        """Whole-run intended-time latency (closed intervals plus the open one)."""
        return _sum_of(self._closed_latency, self._interval_latency)

    @property
    def service(self) -> HdrHistogram:
        """Whole-run service time (closed intervals plus the open one)."""
        return _sum_of(self._closed_service, self._interval_service)

    @property
    def in_flight(self) -> int:
        return self.started - self.total.requests

    def note_started(self) -> None:
        self.started += 1

    def note_start_delay(self, delay_s: float) -> None:
        self.start_delay.record_value(_clamp_us(delay_s * 1_000_000.0))

    def note_loop_lag(self, lag_s: float) -> None:
        self.loop_lag.record_value(_clamp_us(lag_s * 1_000_000.0))
        self._interval_loop_lag_max = max(self._interval_loop_lag_max or 0.0, lag_s)

    def note_late(self, cause: LateCause) -> None:
        self.total.add_late(cause)
        self._interval.add_late(cause)

    def record(self, latency_us: float, service_us: float, outcome: Outcome) -> None:
        self._interval_latency.record_value(_clamp_us(latency_us))
        self._interval_service.record_value(_clamp_us(service_us))
        self.total.add(outcome)
        self._interval.add(outcome)

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
        if status:
            body = getattr(response, "content", None) or b""
            detail = body[:100].decode("utf-8", "replace") if isinstance(body, bytes) else ""
            message = f"{name}: HTTP {status} {detail}".strip()
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
