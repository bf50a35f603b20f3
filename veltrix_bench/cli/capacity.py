"""`vbench capacity CONFIG...`: the highest rate each config sustains within its objectives."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from veltrix_bench.cli.app import MEASURE, Opt, app, finish
from veltrix_bench.cli.options import engine_options

if TYPE_CHECKING:
    from veltrix_bench.commands.engines import EngineOptions


@app.command("capacity", rich_help_panel=MEASURE)
@engine_options("capacity")
def capacity_command(
    engines: EngineOptions,
    configs: Annotated[list[str] | None, typer.Argument(help="Configs (default: default).")] = None,
    slo: Annotated[list[str] | None, Opt(help="Objective, e.g. 'p99 < 50ms' (repeatable).")] = None,
    scenario: Annotated[str, Opt(help="Scenario of the trials; its rate is searched.")] = "steady",
    start: Annotated[float, Opt(help="First rate offered (requests/s).")] = 100.0,
    max_rate: Annotated[float | None, Opt(help="Never offer more than this rate.")] = None,
    step: Annotated[str, Opt(help="Load window of each trial.")] = "10s",
    trials: Annotated[int, Opt(min=1, help="Trials per step; the majority decides.")] = 3,
    resolution: Annotated[str, Opt(help="Bisect until pass and fail are this close.")] = "5%",
    warmup: Annotated[str, Opt(help="Load before each window, not recorded.")] = "2s",
    target: Annotated[str | None, Opt(help="URL of a running engine (never restarted).")] = None,
    allow_remote: Annotated[bool, Opt("--allow-remote", help="Allow a remote --target.")] = False,
    processes: Annotated[int, Opt(min=1, help=">1: Locust's master and this many workers.")] = 1,
    expect_workers: Annotated[int, Opt(min=0, help="Also wait for this many `vbench worker`.")] = 0,
    master_bind: Annotated[str, Opt(help="Address the master listens on.")] = "127.0.0.1",
    master_port: Annotated[int | None, Opt(help="Default 5557 with --expect-workers.")] = None,
    out: Annotated[Path, Opt(help="Parent folder of the capacity directory.")] = Path("reports"),
) -> None:
    """The highest rate each config sustains within the --slo objectives, searched step by step.

    The last line printed is the capacity directory's path.
    """
    from veltrix_bench.commands.capacity import CapacityOptions, capacity
    from veltrix_bench.report.capacity_console import print_capacity

    console = Console()
    options = CapacityOptions(
        configs=configs or [], slos=slo or [], scenario=scenario, start=start, max_rate=max_rate,
        step=step, trials=trials, resolution=resolution, warmup=warmup, target=target,
        allow_remote=allow_remote, processes=processes, expect_workers=expect_workers,
        master_bind=master_bind, master_port=master_port, out=out, engines=engines,
    )  # fmt: skip
    done = capacity(options, console)
    print_capacity(console, done.result)
    finish(done.capacity_dir, done.exit_code)
