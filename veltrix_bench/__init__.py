"""vbench: load-testing and profiling toolkit for the Veltrix treasure-hunt event engine."""

__version__ = "0.1.0"
