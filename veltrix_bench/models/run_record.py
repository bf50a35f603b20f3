"""run.json: what the run stage recorded (the analysis builds summary.json from it alone)."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from veltrix_bench.models.engine_stats import StatsAnswer, events_between
from veltrix_bench.models.generator import GeneratorReport
from veltrix_bench.models.profiles import CpuBlock, MemoryBlock
from veltrix_bench.models.summary import TrialPlace

RUNNING = "running"
COMPLETE = "complete"
INTERRUPTED = "interrupted"
FAILED = "failed"
ENGINE_DIED = "engine_died"


class PlannedLoad(msgspec.Struct, frozen=True, kw_only=True):
    """The load the run set out to offer."""

    model: str  # "open" | "closed"
    target_rate: float | None
    stages: list[list[float]] | None
    users: int
    processes: int = 1
    duration_s: float
    warmup_s: float | UnsetType = UNSET
    """Open model: load offered before the window and not recorded (absent: none)."""


class EngineWindow(msgspec.Struct, frozen=True, kw_only=True):
    """The engine's CPU time and acknowledged events when the load window opened (the
    generator's Ready line) and when its result came (its Final line, after the drain).
    None where the engine could not be read (a target without a pid, or without stats)."""

    cpu_s_open: float | None
    cpu_s_close: float | None
    acked_open: int | None
    acked_close: int | None

    @property
    def cpu_s(self) -> float | None:
        if self.cpu_s_open is None or self.cpu_s_close is None:
            return None
        return self.cpu_s_close - self.cpu_s_open

    @property
    def events_acked(self) -> int | None:
        if self.acked_open is None or self.acked_close is None:
            return None
        return self.acked_close - self.acked_open


class RunRecord(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    started_at: str
    status: str
    """running (the run never finished: the process was killed), complete, interrupted,
    failed or engine_died."""
    status_detail: str = ""
    scenario: str
    scenario_description: str = ""
    config: str
    target: str | None
    embedded_engine: bool = True
    profiled: bool = False
    profile_requested: list[str] = []
    memory: MemoryBlock | None = None
    cpu: CpuBlock | None = None
    profiles_skipped: dict[str, str] = {}
    load: PlannedLoad
    stats_before: StatsAnswer | None = None
    """/v1/stats as the target answered it (another engine's may have another shape)."""
    stats_after: StatsAnswer | None = None
    final: GeneratorReport | None = None
    invariants_not_applicable: str | None = None
    warnings: list[str] = []
    thresholds: list[str] = []
    interleaved: TrialPlace | UnsetType = UNSET
    engine_window: EngineWindow | UnsetType = UNSET
    """Absent in records written before it, or when no window opened."""

    def events_acked(self) -> int | None:
        """Events the engine acknowledged during the load window (None: not known)."""
        counts = events_between(self.stats_before, self.stats_after)
        return counts.acknowledged if counts is not None else None
