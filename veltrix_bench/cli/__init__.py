"""The `vbench` command line: Typer declarations, one module per group of commands, inside one
error boundary (app.py); each command's work is one function in veltrix_bench.commands."""

from veltrix_bench.cli import capacity, check_target, compare, run  # noqa: F401  (declare)
from veltrix_bench.cli.app import app, main

__all__ = ["app", "main"]
