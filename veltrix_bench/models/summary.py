"""summary.json (schema vbench.summary/1): the one machine-readable result of a run.

Field order is the order on disk; add fields, never rename them without a schema bump.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from veltrix_bench.models.generator import LateStarts, WorkerShare
from veltrix_bench.models.latency import Latency
from veltrix_bench.models.profiles import CpuBlock, MemoryBlock

SCHEMA = "vbench.summary/1"


class LoadBlock(msgspec.Struct, frozen=True, kw_only=True):
    """The load offered: the plan, and the window the generator actually ran."""

    model: str  # "open" | "closed"
    target_rate: float | None
    stages: list[list[float]] | None
    users: int
    processes: int = 1
    workers: list[WorkerShare] | None = None
    duration_s: float
    warmup_s: float | UnsetType = UNSET
    """Open model: the warm-up before the window, whose requests are not counted (absent: none)."""


class RequestFigures(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    ok: int
    errors: int
    rejected: int
    error_rate: float
    throughput_rps: float


class GeneratorBlock(msgspec.Struct, frozen=True, kw_only=True):
    """How well the generator kept to its schedule, and whether its figures can be trusted."""

    achieved_rate_ratio: float | None = None
    late_starts: LateStarts = LateStarts(0, 0)
    saturated: bool = False
    target_backing_up: bool = False
    cpu_share: float | None = None


class EngineBlock(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the engine reported: from /metrics (None: not available) and /v1/stats; the CPU
    figures (added later, absent when unknown) from its process over the load window."""

    max_queue_depth: float | None
    peak_rss_mb: float | None
    events_acked: int | None
    events_persisted: int | None
    cpu_s: float | None = None
    """CPU seconds the engine's process used from the window's open to the generator's result."""
    cpu_us_per_event: float | None = None
    """cpu_s per event it acknowledged over the same span, in µs."""


class TrialPlace(msgspec.Struct, frozen=True, kw_only=True):
    """Where an interleaved trial ran among a comparison's or gate's trials, so that its finished
    directories pair again by round."""

    round: int  # from 0, counted per kind of round
    profile: list[str] = []  # the kinds profiled in the round ([]: a latency round)
    position: int  # from 1: the trial ran first, second ... in its round
    side: str  # the side's name
    side_index: int  # from 0: the baseline's trials have 0


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    schema: str
    run_id: str
    started_at: str
    status: str
    status_detail: str = ""
    scenario: str
    config: str
    target: str | None
    profiled: bool = False
    load: LoadBlock
    requests: RequestFigures
    latency_ms: Latency
    service_time_ms: Latency
    generator: GeneratorBlock
    engine: EngineBlock
    memory: MemoryBlock | None = None
    cpu: CpuBlock | None = None
    profiles_skipped: dict[str, str] = {}
    invariants: dict[str, bool] = {}
    invariant_details: dict[str, str] = {}
    invariants_not_applicable: str | None = None
    warnings: list[str] = []
    thresholds: list[str] = []
    interleaved: TrialPlace | UnsetType = UNSET
    """Only in the trials of a comparison or gate (absent, not null, elsewhere)."""

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def broken_invariants(self) -> list[str]:
        return [name for name, holds in self.invariants.items() if not holds]


class Trial(msgspec.Struct, frozen=True):
    """One trial of a comparison or gate: its summary and, when the trials ran as interleaved
    rounds (A B, B A ...), the round it ran in (the kinds profiled, the index)."""

    summary: Summary
    round: tuple[tuple[str, ...], int] | None = None

    @classmethod
    def finished(cls, summary: Summary) -> Trial:
        """A trial read back from its directory, in its round when it ran in one."""
        place = summary.interleaved
        if isinstance(place, TrialPlace):
            return cls(summary, (tuple(place.profile), place.round))
        return cls(summary)
