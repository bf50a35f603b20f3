"""What the load generator did and saw, as the run record keeps its last protocol line."""

from __future__ import annotations

import msgspec

from veltrix_bench.models.latency import EMPTY, Latency


class RequestCounts(msgspec.Struct, frozen=True):
    total: int
    ok: int
    errors: int
    rejected: int


class LateStarts(msgspec.Struct, frozen=True):
    """Starts that missed their intended time, by cause."""

    in_flight_cap: int
    generator: int


class LoadWindow(msgspec.Struct, frozen=True):
    start: float
    end: float


class WorkerShare(msgspec.Struct, frozen=True):
    """What one worker of a distributed run contributed."""

    name: str
    requests: RequestCounts
    late_starts: LateStarts
    lost: str | None = None


class GeneratorReport(msgspec.Struct, frozen=True, kw_only=True):
    """The generator's final line (see load.protocol.Final for what each field means)."""

    interrupted: bool
    load_window: LoadWindow
    duration_s: float
    requests: RequestCounts
    scheduled: int
    started: int
    late_starts: LateStarts
    acked_by_type: dict[str, int]
    sent_by_type: dict[str, int]
    wins_seen: dict[str, int]
    drained: bool
    unanswered: int
    locust_p99_ms: int | float | None
    error_samples: list[str]
    latency_ms: Latency
    service_time_ms: Latency
    start_delay_ms: Latency
    generator_cpu_share: float
    loop_lag_ms: Latency = EMPTY
    generator_peak_rss_mb: float = 0.0
    processes: int = 1
    workers: list[WorkerShare] = msgspec.field(default_factory=list)
    lost_workers: list[str] = msgspec.field(default_factory=list)
