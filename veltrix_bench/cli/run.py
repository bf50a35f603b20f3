"""`vbench run` and what works on one run: its directory, its profiles, the bundled scenarios,
the engine on its own, and a remote worker."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from veltrix_bench.cli.app import DIRECTORIES, MEASURE, MORE, Opt, app, engine_app, err, finish
from veltrix_bench.cli.options import engine_options

if TYPE_CHECKING:
    from veltrix_bench.commands.engines import EngineOptions


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


@app.command("run", rich_help_panel=MEASURE)
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
    finish(done.run.run_dir.path, done.exit_code)


@app.command("report", rich_help_panel=DIRECTORIES)
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `vbench run`.")],
) -> None:
    """Analyse a run directory again and rewrite summary.json, report.md and report.html."""
    from veltrix_bench.commands.report import report

    done = report(run_dir)
    finish(done.report_html, done.exit_code)


@app.command("profile", rich_help_panel=DIRECTORIES)
def profile_command(
    run_dir: Annotated[Path, typer.Argument(help="A profiled run directory.")],
    handler: Annotated[str | None, Opt(help="Regex of the handler's functions.")] = None,
) -> None:
    """Re-render the profile parts (tables, flamegraphs, summary blocks) from saved captures."""
    from veltrix_bench.commands.profile import profile
    from veltrix_bench.report.console import print_profiles

    done = profile(run_dir, handler)
    print_profiles(Console(), done.summary)
    finish(done.report_html, done.exit_code)


@app.command("worker", rich_help_panel=MORE)
def worker_command(
    master: Annotated[str, Opt(help="HOST:PORT of the master (`vbench run --expect-workers`).")],
) -> None:
    """Run one load generator worker for a master on another machine, until it says quit."""
    from veltrix_bench.commands.worker import worker

    raise typer.Exit(worker(master))


@app.command("scenarios", rich_help_panel=MORE)
def scenarios_command() -> None:
    """List the bundled scenarios, one line each."""
    from veltrix_bench.commands.scenarios import scenarios
    from veltrix_bench.report.console import scenario_line

    for item in scenarios():
        print(scenario_line(item))
