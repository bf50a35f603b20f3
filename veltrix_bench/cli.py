"""The `vbench` command line: Typer declarations, one error boundary, and printing the results
(each command's work is one function in `veltrix_bench.commands`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from veltrix_bench import __version__
from veltrix_bench.cli_capacity import capacity_app
from veltrix_bench.cli_check_target import check_target_app
from veltrix_bench.cli_options import engine_options
from veltrix_bench.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, VbenchError


class ErrorBoundary(TyperGroup):
    """The one error boundary of every command: a VbenchError, or a usage error Typer finds
    (an unknown option, a value of the wrong type), is one line on stderr and its exit code.
    Anything else is a bug, and keeps its traceback."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        standalone = kwargs.get("standalone_mode", True)
        kwargs["standalone_mode"] = False  # Typer raises every error; this decides what to say
        if not standalone:
            return super().main(*args, **kwargs)
        try:
            code = super().main(*args, **kwargs)
        except VbenchError as exc:
            _fail(exc.message, exc.exit_code)
        except typer.TyperException as exc:  # usage errors; `vbench` alone printed the help
            if type(exc).__name__ != "NoArgsIsHelpError":
                _fail(" ".join(exc.format_message().split()), EXIT_USAGE)
            sys.exit(EXIT_USAGE)
        except typer.Abort:
            _fail("interrupted", EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def _fail(message: str, exit_code: int) -> NoReturn:
    err.print(f"[bold red]vbench:[/] {escape(message)}", highlight=False)
    sys.exit(exit_code)


app = typer.Typer(
    cls=ErrorBoundary,
    help="Load-test and profile the Veltrix treasure-hunt event engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
engine_app = typer.Typer(help="The embedded reference engine.", no_args_is_help=True)
app.add_typer(engine_app, name="engine")
app.add_typer(check_target_app)  # no name: its command is a command of vbench itself
app.add_typer(capacity_app)  # likewise
if TYPE_CHECKING:
    from veltrix_bench.commands.engines import EngineOptions, GateEngines

err = Console(stderr=True, soft_wrap=True)
Opt = typer.Option
Reports = Annotated[Path, Opt("--out", help="Parent folder of what the command writes.")]


def _version(value: bool) -> None:
    if value:
        print(f"vbench {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, Opt("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """vbench: load tests, latency histograms and profiles of the Veltrix engine."""


@engine_app.command("serve")
def engine_serve(
    config: Annotated[str, Opt(help="Preset name (default, tuned) or a TOML file.")] = "default",
    host: Annotated[str, Opt(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, Opt(help="Port; 0 picks a free one.")] = 8080,
    db: Annotated[Path | None, Opt(help="SQLite file (default: the config's).")] = None,
) -> None:
    """Serve the engine; prints `VELTRIX READY port=<port> pid=<pid>` once it accepts."""
    from veltrix_bench.commands.engine_serve import serve

    raise typer.Exit(serve(config, host, port, db))


@app.command("run")
@engine_options("run")
def run_command(
    engines: EngineOptions,
    scenario: Annotated[str, Opt(help="Bundled scenario name or a TOML file.")] = "smoke",
    config: Annotated[str, Opt(help="Engine config: preset or TOML file.")] = "default",
    rate: Annotated[float | None, Opt(help="Open model at this rate (requests/s).")] = None,
    users: Annotated[int | None, Opt(help="Closed model with this many users.")] = None,
    duration: Annotated[str | None, Opt(help="Load window, e.g. 30s or 2m.")] = None,
    target: Annotated[str | None, Opt(help="URL of an engine to load instead of ours.")] = None,
    allow_remote: Annotated[bool, Opt("--allow-remote", help="Allow a remote --target.")] = False,
    out: Annotated[Path, Opt(help="Parent folder of the run directory.")] = Path("reports"),
    seed: Annotated[int | None, Opt(help="Traffic seed (default: the scenario's).")] = None,
    gate: Annotated[bool, Opt("--gate", help="Apply the scenario's thresholds.")] = False,
    junit: Annotated[Path | None, Opt(help="With --gate: JUnit XML here.")] = None,
    profile: Annotated[str | None, Opt(help="memory (memray), cpu (py-spy), all, none.")] = None,
    handler: Annotated[str | None, Opt(help="Regex of a foreign engine's handler (cpu).")] = None,
    profile_pid: Annotated[int | None, Opt(help="With --target: the pid to sample (cpu).")] = None,
    processes: Annotated[int, Opt(min=1, help=">1: Locust's master and this many workers.")] = 1,
    expect_workers: Annotated[int, Opt(min=0, help="Also wait for this many `vbench worker`.")] = 0,
    master_bind: Annotated[str, Opt(help="Address the master listens on.")] = "127.0.0.1",
    master_port: Annotated[int | None, Opt(help="Default 5557 with --expect-workers.")] = None,
    worker_timeout: Annotated[str, Opt(help="How long the master waits for workers.")] = "60s",
    on_worker_loss: Annotated[str, Opt(help="fail (stop the run) or continue.")] = "fail",
) -> None:
    """Load the engine with a scenario; live view, then a run directory with the results.

    The last line printed is the run directory's path.
    """
    from veltrix_bench.commands.run import RunCommandOptions, run
    from veltrix_bench.report.console import print_gate, print_run

    console = Console()
    options = RunCommandOptions(
        scenario=scenario, config=config, rate=rate, users=users, duration=duration,
        target=target, allow_remote=allow_remote, out=out, seed=seed, gate=gate, junit=junit,
        profile=profile, handler=handler, profile_pid=profile_pid, processes=processes,
        expect_workers=expect_workers, master_bind=master_bind, master_port=master_port,
        worker_timeout=worker_timeout, on_worker_loss=on_worker_loss, engines=engines,
    )  # fmt: skip
    done = run(options, console)
    print_run(
        console, err, done.run.summary, done.run.exit_code, done.run.notices, done.run.message
    )
    if done.gate is not None:
        print_gate(console, done.gate.gate)
    _finish(done.run.run_dir.path, done.exit_code)


def _finish(path: Path, exit_code: int) -> None:
    """The last line is the path of what was written, for scripts to pick up."""
    print(path)
    raise typer.Exit(exit_code)


@app.command("worker")
def worker_command(
    master: Annotated[str, Opt(help="HOST:PORT of the master (`vbench run --expect-workers`).")],
) -> None:
    """Run one load generator worker for a master on another machine, until it says quit."""
    from veltrix_bench.commands.worker import worker

    raise typer.Exit(worker(master))


@app.command("scenarios")
def scenarios_command() -> None:
    """List the bundled scenarios, one line each."""
    from veltrix_bench.commands.scenarios import scenarios
    from veltrix_bench.report.console import scenario_line

    for item in scenarios():
        print(scenario_line(item))


@app.command("report")
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `vbench run`.")],
) -> None:
    """Analyse a run directory again and rewrite summary.json, report.md and report.html."""
    from veltrix_bench.commands.report import report

    done = report(run_dir)
    _finish(done.report_html, done.exit_code)


@app.command("profile")
def profile_command(
    run_dir: Annotated[Path, typer.Argument(help="A profiled run directory.")],
    handler: Annotated[str | None, Opt(help="Regex of the handler's functions.")] = None,
) -> None:
    """Re-render the profile parts (tables, flamegraphs, summary blocks) from saved captures."""
    from veltrix_bench.commands.profile import profile
    from veltrix_bench.report.console import print_profiles

    done = profile(run_dir, handler)
    print_profiles(Console(), done.summary)
    _finish(done.report_html, done.exit_code)


@app.command("compare")
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
    _finish(done.compare_dir, done.exit_code)


@app.command("gate")
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
    _finish(done.gate_json, done.exit_code)


def main() -> None:
    """Entry point; every error a user can cause ends in ErrorBoundary."""
    app()
