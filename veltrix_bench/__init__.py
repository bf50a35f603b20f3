"""vbench: load-testing and profiling toolkit for the Veltrix treasure-hunt event engine."""

from veltrix_bench.lifeline import watch_parent as _watch_parent

__version__ = "0.1.0"

_watch_parent()  # a child that vbench started through a pipe (macOS) dies with vbench
