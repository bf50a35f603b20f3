"""`vbench engine serve`: the embedded reference engine in the foreground."""

from __future__ import annotations

from pathlib import Path

from veltrix_bench.engine.config import load_config
from veltrix_bench.engine.server import run_engine


def serve(config: str, host: str, port: int, db: Path | None) -> int:
    """The engine's exit code once it stops; a UsageError or ConfigError before it starts."""
    return run_engine(load_config(config), host, port, db)
