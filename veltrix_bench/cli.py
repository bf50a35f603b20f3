"""The `vbench` command line: Typer declarations that hand over to the pipeline's stages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from veltrix_bench import __version__
from veltrix_bench.errors import VbenchError

app = typer.Typer(
    help="Load-test and profile the Veltrix treasure-hunt event engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
engine_app = typer.Typer(help="The embedded reference engine.", no_args_is_help=True)
app.add_typer(engine_app, name="engine")

err = Console(stderr=True, soft_wrap=True)

Command = TypeVar("Command", bound=Callable[..., None])


def user_errors(command: Command) -> Command:
    """A VbenchError from a command becomes one red line on stderr and its exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except VbenchError as exc:
            err.print(f"[bold red]vbench:[/] {escape(exc.message)}", highlight=False)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        print(f"vbench {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """vbench: load tests, latency histograms and profiles of the Veltrix engine."""


@engine_app.command("serve")
@user_errors
def engine_serve(
    config: Annotated[str, typer.Option(help="Preset name (default, tuned) or a TOML file.")] = (
        "default"
    ),
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8080,
    db: Annotated[
        Path | None, typer.Option(help="SQLite file (default: the config's storage.path).")
    ] = None,
) -> None:
    """Serve the engine; prints `VELTRIX READY port=<port> pid=<pid>` once it accepts."""
    from veltrix_bench.engine.config import load_config
    from veltrix_bench.engine.server import run_engine

    raise typer.Exit(run_engine(load_config(config), host, port, db))


@app.command("run")
@user_errors
def run_command(
    scenario: Annotated[str, typer.Option(help="Bundled scenario name or a TOML file.")] = "smoke",
    config: Annotated[
        str, typer.Option(help="Engine config: preset (default, tuned) or a TOML file.")
    ] = "default",
    rate: Annotated[
        float | None, typer.Option(help="Open model at this constant rate (requests/s).")
    ] = None,
    users: Annotated[int | None, typer.Option(help="Closed model with this many users.")] = None,
    duration: Annotated[
        str | None, typer.Option(help="Load window, e.g. 30s or 2m (default: the scenario's).")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="URL of an engine to load instead of the embedded one.")
    ] = None,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow a --target outside loopback.")
    ] = False,
    out: Annotated[Path, typer.Option(help="Parent folder of the run directory.")] = Path(
        "reports"
    ),
    seed: Annotated[
        int | None, typer.Option(help="Traffic seed (default: the scenario's).")
    ] = None,
    gate: Annotated[
        bool, typer.Option("--gate", help="Apply the scenario's thresholds when the run ends.")
    ] = False,
    junit: Annotated[Path | None, typer.Option(help="With --gate: JUnit XML here.")] = None,
    profile: Annotated[
        str | None,
        typer.Option(help="Profile the engine: memory (memray), cpu (py-spy) or all."),
    ] = None,
    handler: Annotated[
        str | None, typer.Option(help="Regex of a foreign engine's handler functions (cpu).")
    ] = None,
    profile_pid: Annotated[
        int | None, typer.Option(help="With --target: the engine process to sample (cpu).")
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            min=1, help="Load generator processes: >1 runs Locust's master and that many workers."
        ),
    ] = 1,
    expect_workers: Annotated[
        int,
        typer.Option(
            min=0, help="Also wait for this many `vbench worker --master HOST:PORT` from elsewhere."
        ),
    ] = 0,
    master_bind: Annotated[
        str, typer.Option(help="Address the Locust master listens on for workers.")
    ] = "127.0.0.1",
    master_port: Annotated[
        int | None,
        typer.Option(help="Master port (default: 5557 with --expect-workers, else any free one)."),
    ] = None,
    worker_timeout: Annotated[
        str, typer.Option(help="How long the master waits for its workers to connect.")
    ] = "60s",
    on_worker_loss: Annotated[
        str, typer.Option(help="A worker dies mid-run: fail (stop the run) or continue.")
    ] = "fail",
) -> None:
    """Load the engine with a scenario; live view, then a run directory with the results.

    The last line printed is the run directory's path.
    """
    from veltrix_bench.durations import parse_duration
    from veltrix_bench.report import write_reports
    from veltrix_bench.report.console import print_summary
    from veltrix_bench.run.orchestrator import RunOptions, execute

    try:
        duration_s = parse_duration(duration) if duration is not None else None
    except ValueError as exc:
        raise VbenchError(f"--duration: {exc}") from None
    try:
        worker_timeout_s = parse_duration(worker_timeout)
    except ValueError as exc:
        raise VbenchError(f"--worker-timeout: {exc}") from None
    if on_worker_loss not in ("fail", "continue"):
        raise VbenchError(f"--on-worker-loss '{on_worker_loss}': expected fail or continue")
    options = RunOptions(
        scenario=scenario, config=config, rate=rate, users=users, duration_s=duration_s,
        target=target, allow_remote=allow_remote, out=out, seed=seed,
        profile=_profile_kinds(profile), handler=handler, profile_pid=profile_pid,
        processes=processes, expect_workers=expect_workers, master_bind=master_bind,
        master_port=master_port, worker_timeout_s=worker_timeout_s,
        on_worker_loss=on_worker_loss,
    )  # fmt: skip
    if gate:  # a malformed threshold is a usage error: say so before the load, not after
        from veltrix_bench.analysis.checks import CheckError, parse_check
        from veltrix_bench.load.scenario import load_scenario

        try:
            for text in load_scenario(scenario).thresholds.checks:
                parse_check(text)
        except CheckError as exc:
            raise VbenchError(f"scenario thresholds: {exc}") from None
    console = Console()
    outcome = execute(options, console)
    summary = write_reports(outcome.run_dir)
    if summary["requests"]["total"] or outcome.exit_code == 0:
        print_summary(console, summary)
        from veltrix_bench.report.console import print_profiles

        print_profiles(console, summary)
    exit_code, message = outcome.exit_code, outcome.message
    broken = [name for name, holds in summary["invariants"].items() if not holds]
    if outcome.invariants_not_applicable:
        reason = escape(outcome.invariants_not_applicable)
        err.print(f"vbench: engine invariants not applicable: {reason}", highlight=False)
        broken = []
    if exit_code == 0 and broken:
        details = "; ".join(summary["invariant_details"][name] for name in broken)
        exit_code, message = 3, f"invariant broken: {details}"
    if summary["generator"]["saturated"]:
        err.print("[bold yellow]vbench: the load generator was saturated; figures are suspect[/]")
    if message:
        err.print(f"[bold red]vbench:[/] {escape(message)}", highlight=False)
    if gate and exit_code == 0:
        exit_code = _gate_run(console, outcome.run_dir.path, summary, junit)
    print(outcome.run_dir.path)
    raise typer.Exit(exit_code)


def _profile_kinds(profile: str | None) -> tuple[str, ...] | None:
    choices = {"memory": ("memory",), "cpu": ("cpu",), "all": ("memory", "cpu"), "none": ()}
    if profile is None:
        return None
    if profile not in choices:
        raise VbenchError(f"--profile '{profile}': expected memory, cpu, all or none")
    return choices[profile]


def _gate_run(console: Console, run_dir: Path, summary: dict[str, Any], junit: Path | None) -> int:
    from veltrix_bench.analysis.checks import CheckError, parse_check
    from veltrix_bench.analysis.gate import GateResult, threshold_checks
    from veltrix_bench.report import publish_gate
    from veltrix_bench.report.console import print_gate

    try:
        checks = [parse_check(text) for text in summary.get("thresholds", [])]
    except CheckError as exc:
        raise VbenchError(f"scenario thresholds: {exc}") from None
    result = GateResult(threshold_checks(checks, summary), str(run_dir))
    publish_gate(result, run_dir, junit)
    print_gate(console, result)
    return 0 if result.passed else 1


@app.command("worker")
@user_errors
def worker_command(
    master: Annotated[
        str, typer.Option(help="HOST:PORT of the master (`vbench run --expect-workers N`).")
    ],
) -> None:
    """Run one load generator worker for a master on another machine, until it says quit."""
    import os
    import sys

    host, _, port = master.rpartition(":")
    if not host or not port.isdigit():
        raise VbenchError(f"--master '{master}': expected HOST:PORT")
    command = [sys.executable, "-m", "veltrix_bench.load.worker", f"--master={master}"]
    # this process becomes the worker (gevent and Locust never load in the CLI): signals reach
    # it directly, and the pid the master names in its messages is this command's
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


@app.command("scenarios")
@user_errors
def scenarios_command() -> None:
    """List the bundled scenarios, one line each."""
    from veltrix_bench.load.scenario import list_scenarios

    for item in list_scenarios():
        load = item.load
        shape = (
            f"open {load.peak_rate:,.0f}/s"
            if load.model == "open"
            else f"closed {load.users} users"
        )
        print(f"{item.name:<12} {shape:<18} {load.total_duration_s:>6.0f}s  {item.description}")


@app.command("report")
@user_errors
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `vbench run`.")],
) -> None:
    """Analyse a run directory again and rewrite summary.json, report.md and report.html."""
    from veltrix_bench.report import write_reports
    from veltrix_bench.run.rundir import RunDir

    if not (run_dir / "run.json").exists():
        raise VbenchError(f"{run_dir}: not a run directory (no run.json)")
    write_reports(RunDir(run_dir))
    print(run_dir / "report.html")


@app.command("profile")
@user_errors
def profile_command(
    run_dir: Annotated[Path, typer.Argument(help="A profiled run directory.")],
    handler: Annotated[
        str | None, typer.Option(help="Regex of the handler's functions (default: the engine's).")
    ] = None,
) -> None:
    """Re-render the profile parts (tables, flamegraphs, summary blocks) from saved captures."""
    import json

    from veltrix_bench.profile import CaptureError, render_profiles
    from veltrix_bench.report import write_reports
    from veltrix_bench.run.rundir import RunDir

    record_path = run_dir / "run.json"
    if not record_path.exists():
        raise VbenchError(f"{run_dir}: not a run directory (no run.json)")
    record = json.loads(record_path.read_text())
    before, after = record.get("stats_before"), record.get("stats_after")
    acked = None
    if before and after:
        acked = sum(after["acknowledged"].values()) - sum(before["acknowledged"].values())
    try:
        blocks = render_profiles(run_dir, acked, handler, strict=True).summary_blocks()
    except CaptureError as exc:
        raise VbenchError(str(exc), 3) from None
    record.update(blocks)
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    summary = write_reports(RunDir(run_dir))
    from veltrix_bench.report.console import print_profiles

    print_profiles(Console(), summary)
    print(run_dir / "report.html")


@app.command("compare")
@user_errors
def compare_command(
    sides: Annotated[
        list[str],
        typer.Argument(help="Configs (presets or TOML files), or finished run directories."),
    ],
    scenario: Annotated[str, typer.Option(help="Scenario of every trial.")] = "steady",
    trials: Annotated[int, typer.Option(min=1, help="Unprofiled trials per config.")] = 5,
    profiled_trials: Annotated[
        int, typer.Option(min=0, help="Profiled trials per config, memory and CPU each.")
    ] = 1,
    rate: Annotated[float | None, typer.Option(help="Override the scenario's rate.")] = None,
    duration: Annotated[str | None, typer.Option(help="Override the load window.")] = None,
    threshold: Annotated[
        str, typer.Option(help="Noise threshold: a change smaller than this is not called.")
    ] = "5%",
    metric_threshold: Annotated[
        list[str] | None, typer.Option(help="Per-metric threshold, e.g. p99=10% (repeatable).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Parent folder of the compare directory.")] = Path(
        "reports"
    ),
) -> None:
    """Compare configs by interleaved trials (A B, B A, ...), or finished runs, with confidence.

    The last line printed is the compare directory's path.
    """
    from veltrix_bench.analysis.compare import (
        DEFAULT_THRESHOLD,
        METRICS,
        parse_fraction,
        parse_metric_bounds,
    )
    from veltrix_bench.durations import parse_duration
    from veltrix_bench.report import write_comparison_reports
    from veltrix_bench.run.orchestrator import RunOptions, prepare
    from veltrix_bench.run.trials import load_finished, new_compare_dir, run_interleaved

    try:
        default = parse_fraction(threshold) if threshold else DEFAULT_THRESHOLD
        bounds = {name: default for name in METRICS}
        bounds.update(parse_metric_bounds(metric_threshold or [], "--metric-threshold"))
        duration_s = parse_duration(duration) if duration else None
    except ValueError as exc:
        raise VbenchError(str(exc)) from None
    console = Console()
    finished = [Path(s) for s in sides if Path(s).is_dir()]
    if finished and len(finished) != len(sides):
        raise VbenchError("give either configs or finished run directories, not a mix")
    if finished:
        groups = load_finished(finished)
        scenario_name = ", ".join(sorted({str(s["scenario"]) for g in groups for s in g.summaries}))
        out_dir = new_compare_dir(out, [g.name for g in groups])
    else:
        if len(sides) < 2:
            raise VbenchError("compare needs at least two configs")
        base = RunOptions(scenario=scenario, rate=rate, duration_s=duration_s)
        for config in sides:
            prepare(RunOptions(scenario=scenario, config=config, rate=rate))
        scenario_name = scenario
        out_dir = new_compare_dir(out, sides)
        groups = run_interleaved(sides, base, trials, out_dir, console, profiled_trials)
    if len(groups) < 2 or any(not g.summaries for g in groups):
        empty = [g.name for g in groups if not g.summaries]
        raise VbenchError(f"nothing to compare: no successful trials for {empty or groups}", 3)
    comparison = write_comparison_reports(out_dir, groups, scenario_name, bounds)
    from veltrix_bench.report.console import print_comparison

    print_comparison(console, comparison)
    print(out_dir)


def _summaries_of(path_or_config: str, side: str) -> list[dict[str, Any]] | None:
    """Summaries from a run or compare directory; None when it names a config instead."""
    import json

    path = Path(path_or_config)
    if not path.is_dir():
        return None
    if (path / "summary.json").exists():
        return [json.loads((path / "summary.json").read_text())]
    if (path / "comparison.json").exists():
        sides = json.loads((path / "comparison.json").read_text())["sides"]
        chosen = sides[0] if side == "baseline" else sides[-1]
        return [json.loads((Path(d) / "summary.json").read_text()) for d in chosen["run_dirs"]]
    raise VbenchError(f"{path}: neither a run directory nor a compare directory")


@app.command("gate")
@user_errors
def gate_command(
    run_dir: Annotated[
        Path | None, typer.Argument(help="A finished run directory to check thresholds on.")
    ] = None,
    check: Annotated[
        list[str] | None,
        typer.Option(
            help="A threshold such as 'p99 < 50ms' (repeatable; default: the "
            "scenario's [thresholds])."
        ),  # fmt: skip
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="Baseline: a config, a run directory or a compare directory.")
    ] = None,
    candidate: Annotated[
        str | None,
        typer.Option(help="Candidate: a config, a run directory or a compare directory."),
    ] = None,
    max_regression: Annotated[
        list[str] | None, typer.Option(help="Allowed change, e.g. p99=10% (repeatable).")
    ] = None,
    scenario: Annotated[str, typer.Option(help="Scenario of the trials (configs only).")] = "smoke",
    trials: Annotated[int, typer.Option(min=2, help="Trials per side (configs only).")] = 8,
    duration: Annotated[str | None, typer.Option(help="Override the trials' load window.")] = None,
    rate: Annotated[float | None, typer.Option(help="Override the trials' rate.")] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
    out: Annotated[Path, typer.Option(help="Parent folder for trials and gate.json.")] = Path(
        "reports"
    ),
) -> None:
    """Fail (exit 1) when a threshold is crossed or the candidate regressed beyond a bound."""
    import json

    from veltrix_bench.analysis.checks import CheckError, parse_check
    from veltrix_bench.analysis.gate import GateResult, regression_checks, threshold_checks
    from veltrix_bench.analysis.metrics import parse_metric_bounds
    from veltrix_bench.durations import parse_duration
    from veltrix_bench.report import publish_gate
    from veltrix_bench.run.orchestrator import RunOptions, prepare
    from veltrix_bench.run.trials import new_compare_dir, run_interleaved

    if run_dir is None and (baseline is None or candidate is None):
        raise VbenchError("give a RUN_DIR to check, or --baseline and --candidate")
    if (baseline is None) != (candidate is None):
        raise VbenchError("--baseline and --candidate go together")
    try:
        bounds = parse_metric_bounds(max_regression or [], "--max-regression")
        duration_s = parse_duration(duration) if duration else None
    except ValueError as exc:
        raise VbenchError(str(exc)) from None
    if baseline is not None and not bounds:
        raise VbenchError("regression mode needs at least one --max-regression METRIC=AMOUNT")
    console = Console()
    results = []
    sources = []
    exit_code = 0
    gate_dir: Path
    if run_dir is not None:
        summary_path = run_dir / "summary.json"
        if not summary_path.exists():
            raise VbenchError(f"{run_dir}: not a run directory (no summary.json)")
        summary = json.loads(summary_path.read_text())
        try:
            checks = [parse_check(text) for text in (check or summary.get("thresholds", []))]
        except CheckError as exc:
            raise VbenchError(str(exc)) from None
        if not checks and baseline is None:
            raise VbenchError("no checks: pass --check or give the scenario [thresholds]")
        results += threshold_checks(checks, summary)
        sources.append(str(run_dir))
        gate_dir = run_dir
        if summary["status"] != "complete":
            exit_code = 3
    elif check:
        raise VbenchError("--check needs a RUN_DIR (in regression mode use --max-regression)")
    if baseline is not None and candidate is not None:
        base_runs = _summaries_of(baseline, "baseline")
        cand_runs = _summaries_of(candidate, "candidate")
        gate_dir = new_compare_dir(
            out, [Path(baseline).stem[:24], Path(candidate).stem[:24]], "gate"
        )
        if base_runs is None or cand_runs is None:
            if (base_runs is None) != (cand_runs is None):
                raise VbenchError("--baseline and --candidate must both be configs or both dirs")
            options = RunOptions(scenario=scenario, rate=rate, duration_s=duration_s)
            for config in (baseline, candidate):
                prepare(RunOptions(scenario=scenario, config=config, rate=rate))
            sides = run_interleaved([baseline, candidate], options, trials, gate_dir, console)
            base_runs, cand_runs = sides[0].summaries, sides[1].summaries
            if not base_runs or not cand_runs:
                exit_code = 3
        results += regression_checks(base_runs, cand_runs, bounds)
        sources.append(f"{candidate} against baseline {baseline}")
    gate = GateResult(results, "; ".join(sources))
    publish_gate(gate, gate_dir, junit)
    from veltrix_bench.report.console import print_gate

    print_gate(console, gate)
    if exit_code == 0 and not gate.passed:
        exit_code = 1
    print(gate_dir / "gate.json")
    raise typer.Exit(exit_code)


def main() -> None:
    """Entry point. Typer turns usage errors into exit 2; `user_errors` does the same for ours."""
    app()
