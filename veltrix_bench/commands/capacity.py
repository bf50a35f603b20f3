"""`vbench capacity`: the highest open-model rate each config sustains within its objectives,
searched step by step with the configs interleaved, as capacity.json, .md and .html."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console

from veltrix_bench.analysis.capacity import ACHIEVED_MIN, GROWTH, CapacitySearch
from veltrix_bench.analysis.capacity_result import config_capacity, headline
from veltrix_bench.analysis.checks import Check
from veltrix_bench.analysis.metrics import parse_fraction
from veltrix_bench.commands.engines import EngineOptions, compare_engines
from veltrix_bench.commands.options import checks_option, duration_option
from veltrix_bench.errors import EXIT_OK, UsageError, VbenchError
from veltrix_bench.load.bounds import MAX_RATE, RATE_WHY
from veltrix_bench.models.capacity import CapacityResult, CapacitySettings
from veltrix_bench.report import write_capacity_reports
from veltrix_bench.run.capacity_steps import ConfigSearch, run_searches
from veltrix_bench.run.engine_launch import EngineSpec
from veltrix_bench.run.orchestrator import RunOptions, prepare
from veltrix_bench.run.trials import side_labels
from veltrix_bench.rundir import new_compare_dir
from veltrix_bench.writable import writable_dir

DRAIN_MIN_S = 2.0
"""A request still unanswered this long after the window fails its step (or twice the
longest latency objective, if that is longer)."""


@dataclass(frozen=True)
class CapacityOptions:
    configs: list[str] = field(default_factory=list)
    slos: list[str] = field(default_factory=list)
    scenario: str = "steady"
    start: float = 100.0
    max_rate: float | None = None
    step: str = "10s"
    trials: int = 3
    resolution: str = "5%"
    warmup: str = "2s"
    target: str | None = None
    allow_remote: bool = False
    processes: int = 1
    expect_workers: int = 0
    master_bind: str = "127.0.0.1"
    master_port: int | None = None
    out: Path = Path("reports")
    engines: EngineOptions = field(default_factory=EngineOptions)


@dataclass(frozen=True)
class CapacityOutcome:
    capacity_dir: Path
    result: CapacityResult
    exit_code: int = EXIT_OK


def capacity(options: CapacityOptions, console: Console) -> CapacityOutcome:
    """Every option is checked before the first engine starts. Ctrl-C or a failed run stops the
    search, and what was measured until then is still written (then its error is raised)."""
    started = time.monotonic()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    slos = checks_option(options.slos, "--slo")
    if not slos:
        raise UsageError("capacity needs at least one --slo, e.g. --slo 'p99 < 50ms'")
    settings = _settings(options, slos)
    engines = options.engines
    if options.target is not None and (options.configs or engines.commands or engines.by_revision):
        raise UsageError("--target loads an engine already running: no CONFIG or engine with it")
    configs = ["external"] if options.target else (options.configs or ["default"])
    base = RunOptions(
        scenario=options.scenario, rate=settings.start, duration_s=settings.step_s,
        warmup_s=settings.warmup_s, drain_s=settings.drain_s, target=options.target,
        allow_remote=options.allow_remote, processes=options.processes,
        expect_workers=options.expect_workers, master_bind=options.master_bind,
        master_port=options.master_port, report_html=False, live_transient=True,
        engine_timeout_s=engines.timeout_s(),
    )  # fmt: skip
    for config in configs:
        for rate in (settings.start, settings.max_rate):
            if rate is not None:
                prepare(replace(base, config=config, rate=rate))
    out = writable_dir(options.out, "--out")
    sides = _sides(options, configs, settings, console)
    capacity_dir = new_compare_dir(out, [side.name for side in sides], "capacity")
    stopped: VbenchError | None = None
    try:
        run_searches(sides, base, slos, settings.trials, capacity_dir, console)
    except VbenchError as exc:  # interrupted, or a run failed: write what was measured
        stopped = exc
    answers = [
        config_capacity(side.name, side.config, side.engine_description, side.search, side.steps)
        for side in sides
    ]
    result = CapacityResult(
        started_at=started_at,
        wall_s=round(time.monotonic() - started, 1),
        complete=stopped is None,
        headline=headline(answers, settings.slos),
        notes=_notes(settings, stopped),
        settings=settings,
        configs=answers,
    )
    write_capacity_reports(capacity_dir, result)
    if stopped is not None:
        stopped.message += f" (capacity so far in {capacity_dir})"
        raise stopped
    return CapacityOutcome(capacity_dir, result)


def _sides(
    options: CapacityOptions, configs: list[str], settings: CapacitySettings, console: Console
) -> list[ConfigSearch]:
    """A search per side: a config on the embedded engine, on an --engine-cmd or a revision
    (spelled as compare spells them), or the running --target."""
    if options.target is not None:
        specs = [EngineSpec("external")]
    else:
        specs = compare_engines(configs, options.engines, console, fewest=1)
    names = side_labels([spec.label for spec in specs])
    return [
        ConfigSearch(name, spec.config, _search(settings), spec.command)
        for name, spec in zip(names, specs, strict=True)
    ]


def _settings(options: CapacityOptions, slos: list[Check]) -> CapacitySettings:
    step_s = duration_option(options.step, "--step")
    warmup_s = duration_option(options.warmup, "--warmup")
    assert step_s is not None and warmup_s is not None
    try:
        resolution = parse_fraction(options.resolution)
    except ValueError as exc:
        raise UsageError(f"--resolution {exc}") from None
    for option, rate in (("--start", options.start), ("--max-rate", options.max_rate)):
        if rate is not None and not (math.isfinite(rate) and rate <= MAX_RATE):
            raise UsageError(f"{option} {rate:g}: at most {MAX_RATE:,.0f} {RATE_WHY}")
    latency_bounds_s = [slo.bound / 1000 for slo in slos if slo.metric.unit == "ms"]
    settings = CapacitySettings(
        slos=[slo.text for slo in slos],
        scenario=options.scenario,
        start=options.start,
        max_rate=options.max_rate,
        step_s=step_s,
        warmup_s=warmup_s,
        drain_s=max([DRAIN_MIN_S, *(2 * bound for bound in latency_bounds_s)]),
        trials=options.trials,
        resolution=resolution,
        growth=GROWTH,
        achieved_min=ACHIEVED_MIN,
        target=options.target,
        fresh_engine_per_step=options.target is None,
        processes=options.processes,
        expect_workers=options.expect_workers,
    )
    _search(settings)  # the search's own checks of start, maximum and resolution
    return settings


def _search(settings: CapacitySettings) -> CapacitySearch:
    try:
        return CapacitySearch(
            start=settings.start, max_rate=settings.max_rate, growth=settings.growth,
            resolution=settings.resolution,
        )  # fmt: skip
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _notes(settings: CapacitySettings, stopped: VbenchError | None) -> list[str]:
    notes = []
    if not settings.fresh_engine_per_step:
        notes.append(
            f"--target {settings.target}: one engine for every step, never restarted; a "
            "backlog or state left by one step may carry into the next"
        )
    if settings.expect_workers:
        notes.append(
            f"{settings.expect_workers} remote worker(s) per trial: each trial's master waits "
            "for them anew (restart `vbench worker` in a loop)"
        )
    if stopped is not None:
        notes.append(f"the search stopped before its answer: {stopped.message}")
    return notes
