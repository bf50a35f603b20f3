"""`vbench gate`: thresholds on a finished run, or a candidate against a baseline (configs,
engine commands or revisions of the engine's code), as a verdict with its exit code, gate.json,
gate.md, JUnit XML and the CI step summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from veltrix_bench.analysis.capacity_gate import (
    parse_capacity_bound,
    parse_capacity_check,
    regression_check,
)
from veltrix_bench.analysis.capacity_gate import threshold_checks as capacity_thresholds
from veltrix_bench.analysis.checks import Check
from veltrix_bench.analysis.gate import regression_checks, threshold_checks
from veltrix_bench.commands.engines import GateEngines, gate_engines
from veltrix_bench.commands.options import bounds_option, checks_option, duration_option
from veltrix_bench.errors import EXIT_CHECK_FAILED, EXIT_OK, EXIT_RUN_FAILED, UsageError
from veltrix_bench.models.gate import GateCheck, GateResult
from veltrix_bench.models.summary import Summary, Trial
from veltrix_bench.report import publish_gate
from veltrix_bench.run.orchestrator import RunOptions, prepare
from veltrix_bench.run.trials import finished_trials, run_interleaved
from veltrix_bench.rundir import CAPACITY, GATE, new_compare_dir, read_capacity, read_summary
from veltrix_bench.writable import writable_dir, writable_file


@dataclass(frozen=True)
class GateOptions:
    run_dir: Path | None = None
    checks: list[str] = field(default_factory=list)
    baseline: str | None = None
    candidate: str | None = None
    max_regression: list[str] = field(default_factory=list)
    scenario: str = "gate"
    trials: int = 24  # paired rounds; why: scenarios/gate.toml
    duration: str | None = None
    rate: float | None = None
    junit: Path | None = None
    out: Path = Path("reports")
    engines: GateEngines = field(default_factory=GateEngines)


@dataclass(frozen=True)
class GateOutcome:
    gate: GateResult
    gate_json: Path
    exit_code: int


def gate(options: GateOptions, console: Console) -> GateOutcome:
    """Exit 1 when a check fails, 3 when the run gated (or a side's every trial) failed."""
    run_dir, baseline, candidate = options.run_dir, options.baseline, options.candidate
    if run_dir is not None and (run_dir / CAPACITY).exists():
        return _gate_capacity(options, run_dir)
    by_engine = options.engines.given  # engine commands or revisions, each side started per trial
    regression = baseline is not None or by_engine
    if run_dir is None and not regression:
        raise UsageError(
            "give a RUN_DIR to check, or --baseline and --candidate, or --baseline-ref"
        )
    if (baseline is None) != (candidate is None):
        raise UsageError("--baseline and --candidate go together")
    if run_dir is None and options.checks:
        raise UsageError("--check needs a RUN_DIR (in regression mode use --max-regression)")
    bounds = bounds_option(options.max_regression, "--max-regression")
    duration_s = duration_option(options.duration, "--duration")
    if regression and not bounds:
        raise UsageError("regression mode needs at least one --max-regression METRIC=AMOUNT")
    engine_timeout_s = options.engines.common.timeout_s()
    if options.junit is not None:
        writable_file(options.junit, "--junit")
    results: list[GateCheck] = []
    sources = []
    exit_code = EXIT_OK
    gate_dir = run_dir
    if run_dir is not None:
        summary = read_summary(run_dir)
        writable_dir(run_dir, "RUN_DIR")  # gate.json goes beside the summary
        checks = checks_option(options.checks or summary.thresholds)
        if not checks and baseline is None:
            raise UsageError("no checks: pass --check or give the scenario [thresholds]")
        results += threshold_checks(checks, summary)
        sources.append(str(run_dir))
        if not summary.complete:
            exit_code = EXIT_RUN_FAILED
    if regression:
        base_runs = _summaries_of(baseline, "baseline")
        cand_runs = _summaries_of(candidate, "candidate")
        if base_runs and cand_runs and not _same_dir(baseline, candidate):
            # rounds of two gates or comparisons did not run together: nothing pairs them
            base_runs, cand_runs = _unpaired(base_runs), _unpaired(cand_runs)
        if (base_runs is None) != (cand_runs is None):
            raise UsageError("--baseline and --candidate must both be configs or both dirs")
        if base_runs is not None and by_engine:
            raise UsageError("finished runs are gated as they are: no engine commands or revisions")
        out = writable_dir(options.out, "--out")
        if base_runs is None or cand_runs is None:
            _warn_of_few_rounds(options.trials, console)
            trial = RunOptions(
                scenario=options.scenario, rate=options.rate, duration_s=duration_s,
                engine_timeout_s=engine_timeout_s, report_html=False,
            )  # fmt: skip
            configs = [baseline or options.engines.config, candidate or options.engines.config]
            for config in configs:
                prepare(RunOptions(scenario=options.scenario, config=config, rate=options.rate))
            engines = gate_engines(options.engines, baseline, candidate, console)
            names = [engine.label[:40] for engine in engines]
            gate_dir = new_compare_dir(out, names, "gate")
            sides = run_interleaved(list(engines), trial, options.trials, gate_dir, console)
            base_runs, cand_runs = sides[0].trials, sides[1].trials
            if not base_runs or not cand_runs:
                exit_code = EXIT_RUN_FAILED
            what = [engine.description for engine in engines]
        else:
            assert baseline is not None and candidate is not None
            names = [Path(baseline).stem[:24], Path(candidate).stem[:24]]
            gate_dir = new_compare_dir(out, names, "gate")
            what = [baseline, candidate]
        results += regression_checks(base_runs, cand_runs, bounds)
        sources.append(f"{what[1]} against baseline {what[0]}")
    assert gate_dir is not None
    result = GateResult.of(results, "; ".join(sources))
    publish_gate(result, gate_dir, options.junit)
    if exit_code == EXIT_OK and not result.passed:
        exit_code = EXIT_CHECK_FAILED
    return GateOutcome(result, gate_dir / GATE, exit_code)


def _gate_capacity(options: GateOptions, capacity_dir: Path) -> GateOutcome:
    """`capacity >= N` on every config of a capacity directory, and the second config's
    capacity regression against the first's; exit 3 when the search stopped early."""
    if options.baseline is not None or options.candidate is not None or options.engines.given:
        raise UsageError(
            "a capacity directory gates its own configs (the first is the baseline, the second "
            "the candidate): no --baseline, --candidate or engines"
        )
    try:
        checks = [parse_capacity_check(text) for text in options.checks]
        bounds = [parse_capacity_bound(item) for item in options.max_regression]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not checks and not bounds:
        raise UsageError("no checks: pass --check 'capacity >= N' or --max-regression capacity=10%")
    result = read_capacity(capacity_dir)
    if bounds and len(result.configs) < 2:
        raise UsageError(f"{capacity_dir}: a capacity regression needs two configs searched")
    writable_dir(capacity_dir, "CAPACITY_DIR")  # gate.json goes beside capacity.json
    if options.junit is not None:
        writable_file(options.junit, "--junit")
    checked: list[GateCheck] = [c for check in checks for c in capacity_thresholds(check, result)]
    checked += [regression_check(result, bound) for bound in bounds]
    verdict = GateResult.of(checked, str(capacity_dir))
    publish_gate(verdict, capacity_dir, options.junit)
    exit_code = EXIT_OK if verdict.passed else EXIT_CHECK_FAILED
    return GateOutcome(
        verdict, capacity_dir / GATE, exit_code if result.complete else EXIT_RUN_FAILED
    )


def _summaries_of(path_or_config: str | None, side: str) -> list[Trial] | None:
    """Trials from a run or compare directory; None when it names a config (or nothing)."""
    if path_or_config is None:
        return None
    path = Path(path_or_config)
    return finished_trials(path, side) if path.is_dir() else None


def _warn_of_few_rounds(rounds: int, console: Console) -> None:
    from veltrix_bench.analysis.paired import ONE_SIDED_95, ROUNDS_ONE_ODD_CANNOT_END

    enough = ROUNDS_ONE_ODD_CANNOT_END[ONE_SIDED_95]
    if rounds < enough:
        console.print(
            f"[yellow]vbench: {rounds} rounds: one odd round (a trial that hit a long stall) "
            f"can decide the verdict; {enough} or more cannot be swayed by one[/]"
        )


def _same_dir(baseline: str | None, candidate: str | None) -> bool:
    if baseline is None or candidate is None:
        return False
    return Path(baseline).resolve() == Path(candidate).resolve()


def _unpaired(trials: list[Trial]) -> list[Trial]:
    return [Trial(trial.summary) for trial in trials]


def gate_a_run(
    summary: Summary, run_dir: Path, checks: list[Check], junit: Path | None
) -> GateOutcome:
    """The scenario's thresholds on a run just made (`vbench run --gate`)."""
    result = GateResult.of(list(threshold_checks(checks, summary)), str(run_dir))
    publish_gate(result, run_dir, junit)
    exit_code = EXIT_OK if result.passed else EXIT_CHECK_FAILED
    return GateOutcome(result, run_dir / GATE, exit_code)
