"""The generator's stdout protocol: one JSON object per line, as dataclasses both sides share.

The generator writes `encode(line)`; the CLI reads each stdout line with `decode(text)`.
No gevent here: the CLI imports this module.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar, cast


@dataclass(frozen=True)
class Ready:
    """The load window started (users spawned)."""

    kind: ClassVar[str] = "ready"
    started_at: float
    users: int


@dataclass(frozen=True)
class Tick:
    """One second of the load window; counts are within that second, percentiles of it.

    `t` is seconds since the window start at the end of the interval (1, 2, ...; the last
    tick after the drain may cover a partial second and carry a fractional t).
    Percentiles are None when the second saw no completed request. `late_cap` and
    `late_generator` count the starts sent in that second that were late, by cause
    (counted when the request finally goes out, so a second in which the cap blocks
    every start shows none: compare `requests` with `target_rate`).
    """

    kind: ClassVar[str] = "tick"
    t: float
    requests: int
    ok: int
    errors: int
    rejected: int
    target_rate: float | None
    in_flight: int
    late_cap: int
    late_generator: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    service_p50_ms: float | None
    service_p99_ms: float | None
    loop_lag_ms: float | None = None
    """Worst lag of the generator's event loop in that second (a canary greenlet's
    oversleep); tens of ms mean the generator, not the target, is the bottleneck."""


@dataclass(frozen=True)
class RequestCounts:
    total: int
    ok: int
    errors: int
    rejected: int


@dataclass(frozen=True)
class LateStarts:
    in_flight_cap: int
    generator: int


@dataclass(frozen=True)
class LoadWindow:
    start: float
    end: float


@dataclass(frozen=True)
class LatencySummary:
    """Whole-run figures in ms from the full-resolution histogram (None when empty)."""

    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    p999: float | None
    max: float | None
    mean: float | None


@dataclass(frozen=True)
class WorkerShare:
    """What one worker of a distributed run contributed (its part of `Final.requests`)."""

    name: str
    requests: RequestCounts
    late_starts: LateStarts
    lost: str | None = None
    """Why it was lost mid-run (its counts are then those of the seconds it reported)."""


@dataclass(frozen=True)
class Final:
    """The last line: what the generator did and saw."""

    kind: ClassVar[str] = "final"
    interrupted: bool
    load_window: LoadWindow
    duration_s: float
    requests: RequestCounts
    scheduled: int
    """Open model: intended times that fell inside the (possibly interrupted) window.
    Closed model: equal to `started`."""
    started: int
    late_starts: LateStarts
    acked_by_type: dict[str, int]
    """Event results received in 200 answers (any status), per event type."""
    sent_by_type: dict[str, int]
    """Requests sent per action: the five event types plus 'leaderboard' and 'player'."""
    wins_seen: dict[str, int]
    drained: bool
    unanswered: int
    locust_p99_ms: float | None
    error_samples: list[str]
    latency_ms: LatencySummary
    service_time_ms: LatencySummary
    start_delay_ms: LatencySummary
    """Open model: how much later than intended requests were sent. Even an idle
    generator shows ~0.5-1 ms here (gevent timers wake on epoll's 1 ms granularity);
    this delay is part of every intended-time latency."""
    generator_cpu_share: float
    """Process CPU time / wall time from window start to the end: near 1.0 means saturated."""
    loop_lag_ms: LatencySummary = LatencySummary(None, None, None, None, None, None, None)
    """The event loop's lag, sampled every 20 ms during the window."""
    generator_peak_rss_mb: float = 0.0
    """Peak RSS of the generator process (distributed: of the largest worker)."""
    processes: int = 1
    """Generator processes that made the load: 1 (local runner) or the workers' count."""
    workers: list[WorkerShare] = field(default_factory=list)
    """Distributed runs: each worker's share; the totals above are their exact sums."""
    lost_workers: list[str] = field(default_factory=list)
    """Workers that died or stopped reporting mid-run, by name and why."""


@dataclass(frozen=True)
class Error:
    """A fatal problem; the generator exits 1 after it."""

    kind: ClassVar[str] = "error"
    message: str


Line = Ready | Tick | Final | Error

_NESTED = {
    "load_window": LoadWindow,
    "requests": RequestCounts,
    "late_starts": LateStarts,
    "latency_ms": LatencySummary,
    "service_time_ms": LatencySummary,
    "start_delay_ms": LatencySummary,
    "loop_lag_ms": LatencySummary,
}


def encode(line: Line) -> str:
    return json.dumps({"kind": line.kind, **asdict(line)}, separators=(",", ":"))


def decode(text: str) -> Line:
    """One stdout line back into its dataclass; ValueError if it is not a protocol line."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a protocol line: {text[:80]!r}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"not a protocol line: {text[:80]!r}")
    kind = data.pop("kind", None)
    for line_type in (Ready, Tick, Final, Error):
        if line_type.kind == kind:
            return cast(Line, _build(line_type, data))
    raise ValueError(f"unknown line kind {kind!r}")


T = TypeVar("T")


def _build(cls: type[T], data: dict[str, Any]) -> T:
    known = fields(cls)  # type: ignore[arg-type]
    required = {field.name for field in known if field.default is MISSING}
    missing = required - data.keys()
    if missing:
        raise ValueError(f"{cls.__name__} line lacks {sorted(missing)}")
    values = {field.name: data[field.name] for field in known if field.name in data}
    for name, nested in _NESTED.items():
        if name in values and isinstance(values[name], dict):
            values[name] = nested(**values[name])
    if cls is Final and "workers" in values:
        values["workers"] = [_build(WorkerShare, dict(worker)) for worker in values["workers"]]
    return cls(**values)
