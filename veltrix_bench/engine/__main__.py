"""`python -m veltrix_bench.engine --config NAME|FILE --host H --port N --db FILE`: serve the
engine (what `vbench engine serve` runs, without the CLI's imports in the engine's process)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from veltrix_bench.engine.config import load_config
from veltrix_bench.engine.server import run_engine
from veltrix_bench.errors import VbenchError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m veltrix_bench.engine", description="Serve the Veltrix reference engine."
    )
    parser.add_argument("--config", default="default", help="preset name or a TOML file")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one")
    parser.add_argument("--db", type=Path, default=None, help="SQLite file")
    args = parser.parse_args(argv)
    try:
        return run_engine(load_config(args.config), args.host, args.port, args.db)
    except VbenchError as exc:  # a bad config: one line, as the CLI would print it
        print(f"vbench: {exc.message}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
