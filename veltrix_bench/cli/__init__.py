"""The `vbench` command line: Typer declarations, one module per group of commands, inside one
error boundary (app.py); each command's work is one function in veltrix_bench.commands."""

# The order of declaration is the order of `vbench --help`.
# isort: off
from veltrix_bench.cli import run, capacity, compare, check_target  # noqa: F401
from veltrix_bench.cli.app import app, main

# isort: on

__all__ = ["app", "main"]
