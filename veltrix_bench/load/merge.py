"""The exact merge of what a run's shares report: one tick a second, one result at the end.

A local run has one share, a distributed one a share per worker; both go through this
merge. Shares ship encoded HDR histograms (the same 1 µs..1 h, 3-digit layout everywhere),
so a merge is a bucket-by-bucket sum: merged counts are the sum of the shares' counts and
merged percentiles are those of one histogram fed every sample.
Pure data and arithmetic (no gevent).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from veltrix_bench.hdr import new_histogram
from veltrix_bench.load.messages import IntervalReport, ShareResult
from veltrix_bench.load.protocol import LateStarts, RequestCounts, Tick, WorkerShare
from veltrix_bench.load.recorder import MAX_ERROR_SAMPLES, percentiles


def merged(encoded: Iterable[bytes]) -> HdrHistogram:
    """One histogram holding every sample of the encoded ones."""
    histogram = new_histogram()
    for payload in encoded:
        histogram.decode_and_add(payload)
    return histogram


def merge_interval(
    t: float, reports: Sequence[IntervalReport], target_rate: float | None
) -> tuple[Tick, HdrHistogram, HdrHistogram]:
    """The whole generator's tick for the interval ending at `t`, and its histograms."""
    latency = merged(report.latency for report in reports)
    service = merged(report.service for report in reports)
    ticks = [report.tick for report in reports]
    lags = [tick.loop_lag_ms for tick in ticks if tick.loop_lag_ms is not None]
    p50, p90, p99 = percentiles(latency, (50, 90, 99))
    service_p50, service_p99 = percentiles(service, (50, 99))
    tick = Tick(
        t=round(t, 3),
        requests=sum(tick.requests for tick in ticks),
        ok=sum(tick.ok for tick in ticks),
        errors=sum(tick.errors for tick in ticks),
        rejected=sum(tick.rejected for tick in ticks),
        target_rate=target_rate,
        in_flight=sum(tick.in_flight for tick in ticks),
        late_cap=sum(tick.late_cap for tick in ticks),
        late_generator=sum(tick.late_generator for tick in ticks),
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        service_p50_ms=service_p50,
        service_p99_ms=service_p99,
        loop_lag_ms=max(lags) if lags else None,
    )
    return tick, latency, service


@dataclass
class ShareTally:
    """The run's view of one share (the local one, or a worker's): intervals received, then
    its result; a worker lost mid-run counts with the seconds it reported."""

    name: str
    intervals: list[IntervalReport] = field(default_factory=list)
    """Received and not yet merged into a tick."""
    requests: Counter[str] = field(default_factory=Counter)
    latency: HdrHistogram = field(default_factory=new_histogram)
    service: HdrHistogram = field(default_factory=new_histogram)
    result: ShareResult | None = None
    lost: str | None = None

    def add_interval(self, report: IntervalReport) -> None:
        self.intervals.append(report)
        tick = report.tick
        self.requests.update(
            total=tick.requests, ok=tick.ok, errors=tick.errors, rejected=tick.rejected,
            late_cap=tick.late_cap, late_generator=tick.late_generator,
        )  # fmt: skip
        self.latency.decode_and_add(report.latency)
        self.service.decode_and_add(report.service)

    def take_intervals(self, until_t: float | None = None) -> list[IntervalReport]:
        """Remove and return the received intervals ending at or before `until_t` (all: None)."""
        taken: list[IntervalReport] = []
        kept: list[IntervalReport] = []
        for report in self.intervals:
            due = until_t is None or report.tick.t <= until_t + 1e-6
            (taken if due else kept).append(report)
        self.intervals = kept
        return taken

    def has_interval(self, t: float) -> bool:
        return any(report.tick.t >= t - 1e-6 for report in self.intervals)

    @property
    def settled(self) -> bool:
        return self.result is not None or self.lost is not None

    def share(self) -> WorkerShare:
        """Its part of the totals: from its result, or (lost) from the seconds it reported."""
        if self.result is not None:
            return WorkerShare(self.name, self.result.requests, self.result.late_starts, self.lost)
        counts = self.requests
        return WorkerShare(
            self.name,
            RequestCounts(counts["total"], counts["ok"], counts["errors"], counts["rejected"]),
            LateStarts(counts["late_cap"], counts["late_generator"]),
            self.lost,
        )


@dataclass(frozen=True)
class MergedResult:
    """The sums and merged histograms of every worker's share."""

    requests: RequestCounts
    late_starts: LateStarts
    started: int
    unanswered: int
    drained: bool
    acked_by_type: dict[str, int]
    sent_by_type: dict[str, int]
    wins_seen: dict[str, int]
    error_samples: list[str]
    latency: HdrHistogram
    service: HdrHistogram
    start_delay: HdrHistogram
    loop_lag: HdrHistogram
    peak_rss_mb: float
    cpu_share: float
    workers: list[WorkerShare]


def merge_results(tallies: Sequence[ShareTally]) -> MergedResult:
    """Exact sums over workers; a lost worker counts with the seconds it reported."""
    shares = [tally.share() for tally in tallies]
    results = [tally.result for tally in tallies if tally.result is not None]
    latency, service = new_histogram(), new_histogram()
    for tally in tallies:
        if tally.result is not None:
            latency.decode_and_add(tally.result.latency)
            service.decode_and_add(tally.result.service)
        else:
            latency.add(tally.latency)
            service.add(tally.service)
    acked: Counter[str] = Counter()
    sent: Counter[str] = Counter()
    wins: Counter[str] = Counter()
    samples: list[str] = []
    for result in results:
        acked.update(result.acked_by_type)
        sent.update(result.sent_by_type)
        wins.update(result.wins_seen)
        samples += [s for s in result.error_samples if s not in samples]
    lost_started = sum(tally.share().requests.total for tally in tallies if tally.result is None)
    return MergedResult(
        requests=RequestCounts(
            total=sum(share.requests.total for share in shares),
            ok=sum(share.requests.ok for share in shares),
            errors=sum(share.requests.errors for share in shares),
            rejected=sum(share.requests.rejected for share in shares),
        ),
        late_starts=LateStarts(
            in_flight_cap=sum(share.late_starts.in_flight_cap for share in shares),
            generator=sum(share.late_starts.generator for share in shares),
        ),
        started=sum(result.started for result in results) + lost_started,
        unanswered=sum(result.unanswered for result in results),
        drained=all(result.drained for result in results) and len(results) == len(tallies),
        acked_by_type=dict(acked),
        sent_by_type=dict(sent),
        wins_seen=dict(wins),
        error_samples=samples[:MAX_ERROR_SAMPLES],
        latency=latency,
        service=service,
        start_delay=merged(result.start_delay for result in results),
        loop_lag=merged(result.loop_lag for result in results),
        peak_rss_mb=max((result.peak_rss_mb for result in results), default=0.0),
        cpu_share=max((result.cpu_share for result in results), default=0.0),
        workers=shares,
    )
