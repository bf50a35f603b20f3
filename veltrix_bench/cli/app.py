"""The `vbench` application: the one error boundary every command runs inside, and what the
command modules beside this one share (the app, stderr, the last line they print)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from veltrix_bench import __version__
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
# the panels of `vbench --help`, in the order the commands are declared
MEASURE, DIRECTORIES, MORE, ENGINES = "Measure", "Run directories", "More", "Engines"
app.add_typer(engine_app, name="engine", rich_help_panel=ENGINES)
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


def finish(path: Path, exit_code: int) -> None:
    """The last line is the path of what was written, for scripts to pick up."""
    print(path)
    raise typer.Exit(exit_code)


def main() -> None:
    """Entry point; every error a user can cause ends in ErrorBoundary."""
    app()
