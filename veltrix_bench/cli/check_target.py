"""`vbench check-target URL`: an engine checked against the contract, one row per check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from veltrix_bench.cli.app import ENGINES, Opt, app


@app.command("check-target", rich_help_panel=ENGINES)
def check_target_command(
    url: Annotated[str, typer.Argument(help="The engine to check, e.g. http://127.0.0.1:8080.")],
    allow_remote: Annotated[bool, Opt("--allow-remote", help="Allow a non-loopback URL.")] = False,
    junit: Annotated[Path | None, Opt(help="Write JUnit XML here (a case per check).")] = None,
    max_requests: Annotated[int, Opt(help="At most this many requests.")] = 3000,
    timeout: Annotated[str, Opt(help="At most this long, e.g. 3m.")] = "3m",
) -> None:
    """Check an engine against the contract: a table of checks; exit 1 when one fails."""
    from veltrix_bench.commands.check_target import CheckTargetOptions, check_target
    from veltrix_bench.report.console import print_conformance

    done = check_target(CheckTargetOptions(url, allow_remote, junit, max_requests, timeout))
    print_conformance(Console(), done.result)
    raise typer.Exit(done.exit_code)
