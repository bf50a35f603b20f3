"""`vbench engine serve`: the embedded reference engine in the foreground."""

from __future__ import annotations

from pathlib import Path

from veltrix_bench.engine.config import load_config
from veltrix_bench.engine.server import run_engine
from veltrix_bench.errors import UsageError
from veltrix_bench.run.target import MAX_PORT


def serve(config: str, host: str, port: int, db: Path | None) -> int:
    """The engine's exit code once it stops; a ConfigError before it starts for a bad config."""
    if not 0 <= port <= MAX_PORT:
        raise UsageError(f"--port {port}: a port is a number from 0 (any free one) to {MAX_PORT}")
    return run_engine(load_config(config), host, port, db)
