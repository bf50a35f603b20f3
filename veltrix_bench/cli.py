"""The `vbench` command line: Typer declarations that hand over to the pipeline's stages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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

err = Console(stderr=True)


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


def main() -> None:
    """Entry point: user errors become one line and their exit code, never a traceback."""
    try:
        app(standalone_mode=False)
    except VbenchError as exc:
        err.print(f"[bold red]vbench:[/] {exc.message}", highlight=False, markup=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
