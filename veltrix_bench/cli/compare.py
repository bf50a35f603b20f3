"""`vbench compare` and `vbench gate`: sides run as interleaved rounds, or finished directories."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from veltrix_bench.cli.app import MEASURE, Opt, Reports, app, finish
from veltrix_bench.cli.options import engine_options

if TYPE_CHECKING:
    from veltrix_bench.commands.engines import EngineOptions, GateEngines


@app.command("compare", rich_help_panel=MEASURE)
@engine_options("compare")
def compare_command(
    engines: EngineOptions,
    sides: Annotated[list[str], typer.Argument(help="Configs, or finished run directories.")],
    scenario: Annotated[str, Opt(help="Scenario of every trial.")] = "steady",
    trials: Annotated[int, Opt(min=1, help="Unprofiled trials per config (6+: paired).")] = 6,
    profiled_trials: Annotated[int, Opt(min=0, help="Profiled trials per config, each kind.")] = 1,
    rate: Annotated[float | None, Opt(help="Override the scenario's rate.")] = None,
    duration: Annotated[str | None, Opt(help="Override the load window.")] = None,
    threshold: Annotated[str, Opt(help="Noise threshold: smaller changes are not called.")] = "5%",
    metric_threshold: Annotated[list[str] | None, Opt(help="e.g. p99=10% (repeatable).")] = None,
    out: Reports = Path("reports"),
) -> None:
    """Compare configs, engines or revisions by interleaved trials (A B, B A, ...), or runs.

    The last line printed is the compare directory's path.
    """
    from veltrix_bench.commands.compare import CompareOptions, compare
    from veltrix_bench.report.console import print_comparison

    console = Console()
    options = CompareOptions(
        sides=sides, scenario=scenario, trials=trials, profiled_trials=profiled_trials, rate=rate,
        duration=duration, threshold=threshold, metric_threshold=metric_threshold or [], out=out,
        engines=engines,
    )  # fmt: skip
    done = compare(options, console)
    print_comparison(console, done.comparison)
    finish(done.compare_dir, done.exit_code)


@app.command("gate", rich_help_panel=MEASURE)
@engine_options("gate")
def gate_command(
    engines: GateEngines,
    run_dir: Annotated[Path | None, typer.Argument(help="A run or capacity directory.")] = None,
    check: Annotated[list[str] | None, Opt(help="e.g. 'p99 < 50ms' (repeatable).")] = None,
    baseline: Annotated[str | None, Opt(help="A config; a run, compare or gate dir.")] = None,
    candidate: Annotated[str | None, Opt(help="A config; a run, compare or gate dir.")] = None,
    max_regression: Annotated[list[str] | None, Opt(help="e.g. p99=10% (repeatable).")] = None,
    scenario: Annotated[str, Opt(help="Scenario of the trials (configs only).")] = "gate",
    trials: Annotated[int, Opt(min=6, help="Paired rounds: trials per side.")] = 24,
    duration: Annotated[str | None, Opt(help="Override the trials' load window.")] = None,
    rate: Annotated[float | None, Opt(help="Override the trials' rate.")] = None,
    junit: Annotated[Path | None, Opt(help="Write JUnit XML here.")] = None,
    out: Reports = Path("reports"),
) -> None:
    """Fail (exit 1) when a threshold is crossed or the candidate regressed beyond a bound."""
    from veltrix_bench.commands.gate import GateOptions, gate
    from veltrix_bench.report.console import print_gate

    console = Console()
    options = GateOptions(
        run_dir=run_dir, checks=check or [], baseline=baseline, candidate=candidate,
        max_regression=max_regression or [], scenario=scenario, trials=trials,
        duration=duration, rate=rate, junit=junit, out=out, engines=engines,
    )  # fmt: skip
    done = gate(options, console)
    print_gate(console, done.gate)
    finish(done.gate_json, done.exit_code)
