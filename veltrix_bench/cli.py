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
    options = RunOptions(
        scenario=scenario, config=config, rate=rate, users=users, duration_s=duration_s,
        target=target, allow_remote=allow_remote, out=out, seed=seed,
    )  # fmt: skip
    console = Console()
    outcome = execute(options, console)
    summary = write_reports(outcome.run_dir)
    if summary["requests"]["total"] or outcome.exit_code == 0:
        print_summary(console, summary)
    exit_code, message = outcome.exit_code, outcome.message
    broken = [name for name, holds in summary["invariants"].items() if not holds]
    if exit_code == 0 and broken:
        details = "; ".join(summary["invariant_details"][name] for name in broken)
        exit_code, message = 3, f"invariant broken: {details}"
    if summary["generator"]["saturated"]:
        err.print("[bold yellow]vbench: the load generator was saturated; figures are suspect[/]")
    if message:
        err.print(f"[bold red]vbench:[/] {escape(message)}", highlight=False)
    print(outcome.run_dir.path)
    raise typer.Exit(exit_code)


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


def main() -> None:
    """Entry point. Typer turns usage errors into exit 2; `user_errors` does the same for ours."""
    app()
