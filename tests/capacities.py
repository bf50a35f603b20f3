"""Capacity results for tests, made through the model: a search's answer without running it."""

from __future__ import annotations

from pathlib import Path

from veltrix_bench.analysis.capacity import ACHIEVED_MIN, GROWTH
from veltrix_bench.models.capacity import (
    CapacityResult,
    CapacitySettings,
    CapacityStep,
    CapacityTrial,
    ConfigCapacity,
)
from veltrix_bench.models.documents import write_document
from veltrix_bench.rundir import CAPACITY

SETTINGS = CapacitySettings(
    slos=["p99 < 50ms"], scenario="steady", start=100.0, max_rate=None, step_s=10.0,
    warmup_s=2.0, drain_s=2.0, trials=3, resolution=0.05, growth=GROWTH,
    achieved_min=ACHIEVED_MIN, target=None, fresh_engine_per_step=True, processes=1,
    expect_workers=0,
)  # fmt: skip


def step(
    round_: int, rate: float, verdict: str, p99_ms: float, run_dir: str = "trials/x"
) -> CapacityStep:
    """A step of two trials that agree (p50 a tenth of the p99)."""
    trials = [
        CapacityTrial(
            run_dir=f"{run_dir}-{round_}-{index}",
            verdict=verdict,
            reasons=[] if verdict == "pass" else [f"p99 < 50ms: p99 = {p99_ms} ms"],
            order=index,
            p50_ms=p99_ms / 10,
            p99_ms=p99_ms * (1 + index / 10),
            achieved_ratio=1.0,
            error_rate=0.0,
            engine_cpu_us_per_event=200.0 + rate / 100,
            max_queue_depth=rate / 50,
        )  # fmt: skip
        for index in range(2)
    ]
    return CapacityStep(
        round=round_, rate=rate, verdict=verdict, trials=trials, p50_ms=p99_ms / 10,
        p99_ms=p99_ms, achieved_ratio=1.0, engine_cpu_us_per_event=200.0 + rate / 100,
        max_queue_depth=rate / 50,
    )  # fmt: skip


def config(
    name: str,
    capacity: float | None,
    lowest_failed: float | None,
    limit: str | None = "engine",
    lower_bound: bool = False,
) -> ConfigCapacity:
    """A config whose steps climb to its capacity and fail above it."""
    rates = [100.0, 400.0, 1600.0, 6400.0]
    steps = [
        step(
            number,
            rate,
            "pass" if capacity and rate <= capacity else "fail",
            5 if capacity and rate <= capacity else 900,
        )
        for number, rate in enumerate(rates, start=1)
    ]
    return ConfigCapacity(
        name=name, config=name, capacity=capacity, lower_bound=lower_bound, limit=limit,
        lowest_failed=lowest_failed, generator_ceiling=None, limit_cause=f"{limit} stopped it",
        steps=steps,
    )  # fmt: skip


def write_capacity(folder: Path, *configs: ConfigCapacity, complete: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    result = CapacityResult(
        started_at="2026-01-01T00:00:00Z", wall_s=480.0, complete=complete,
        headline="tuned sustains 3,980/s at p99 < 50ms vs 250/s for default — 16x", notes=[],
        settings=SETTINGS, configs=list(configs),
    )  # fmt: skip
    write_document(folder / CAPACITY, result)
    return folder
