"""`vbench compare`: configs, engine commands or revisions by interleaved trials, or finished
runs, side by side."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from veltrix_bench.analysis.compare import DEFAULT_THRESHOLD, METRICS, parse_fraction
from veltrix_bench.commands.engines import EngineOptions, compare_engines
from veltrix_bench.commands.options import bounds_option, duration_option
from veltrix_bench.errors import EXIT_OK, RunFailed, UsageError
from veltrix_bench.models.comparison import Comparison
from veltrix_bench.report import write_comparison_reports
from veltrix_bench.run.orchestrator import RunOptions, prepare
from veltrix_bench.run.trials import load_finished, run_interleaved
from veltrix_bench.rundir import new_compare_dir
from veltrix_bench.writable import writable_dir


@dataclass(frozen=True)
class CompareOptions:
    sides: list[str]
    scenario: str = "steady"
    trials: int = 6  # the fewest rounds with a paired interval (analysis.paired.MIN_ROUNDS)
    profiled_trials: int = 1
    rate: float | None = None
    duration: str | None = None
    threshold: str = "5%"
    metric_threshold: list[str] = field(default_factory=list)
    out: Path = Path("reports")
    engines: EngineOptions = field(default_factory=EngineOptions)


@dataclass(frozen=True)
class CompareOutcome:
    compare_dir: Path
    comparison: Comparison
    exit_code: int = EXIT_OK


def compare(options: CompareOptions, console: Console) -> CompareOutcome:
    """comparison.json, .md and .html in a new compare directory under `out`."""
    try:
        default = parse_fraction(options.threshold) if options.threshold else DEFAULT_THRESHOLD
    except ValueError as exc:
        raise UsageError(f"--threshold {exc}") from None
    bounds = {name: default for name in METRICS}
    bounds.update(bounds_option(options.metric_threshold, "--metric-threshold"))
    duration_s = duration_option(options.duration, "--duration")
    sides = options.sides
    finished = [Path(side) for side in sides if Path(side).is_dir()]
    if finished and len(finished) != len(sides):
        raise UsageError("give either configs or finished run directories, not a mix")
    if finished and (options.engines.commands or options.engines.by_revision):
        raise UsageError("finished runs are compared as they are: no --engine-cmd or revisions")
    if finished and len(finished) < 2:
        raise UsageError("compare needs at least two sides: configs or finished run directories")
    engine_timeout_s = options.engines.timeout_s()
    out = writable_dir(options.out, "--out")
    if finished:
        groups = load_finished(finished)
        if len(groups) < 2:
            raise UsageError(
                f"these runs all have config '{groups[0].name}': give runs of at least two configs"
            )
        scenario = ", ".join(sorted({t.summary.scenario for g in groups for t in g.trials}))
        compare_dir = new_compare_dir(out, [g.name for g in groups])
    else:
        base = RunOptions(
            scenario=options.scenario, rate=options.rate, duration_s=duration_s,
            engine_timeout_s=engine_timeout_s, native=options.engines.native,
        )  # fmt: skip
        for config in sides:
            prepare(RunOptions(scenario=options.scenario, config=config, rate=options.rate))
        engines = compare_engines(sides, options.engines, console)
        scenario = options.scenario
        compare_dir = new_compare_dir(out, [engine.label for engine in engines])
        groups = run_interleaved(
            engines, base, options.trials, compare_dir, console, options.profiled_trials
        )
    empty = [g.name for g in groups if not g.trials]
    if empty:
        raise RunFailed(f"nothing to compare: no successful trials for {', '.join(empty)}")
    try:
        comparison = write_comparison_reports(compare_dir, groups, scenario, bounds)
    except RunFailed:  # a trial's log is unreadable: leave no empty compare directory behind
        if not any(compare_dir.iterdir()):
            compare_dir.rmdir()
        raise
    return CompareOutcome(compare_dir, comparison)
