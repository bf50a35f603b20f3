"""SQLite alone, no HTTP: single-row transactions per second under each preset's settings.

    python -m benchmarks.sqlite_commit_rate [--commits 500]

Writes results/sqlite_commit_rate.md and the same table into benchmarks/README.md.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

from benchmarks.harness import publish, script_parser, transcript

SETTINGS = (("delete", "full", "default"), ("wal", "normal", "tuned"), ("wal", "full", ""))


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--commits", type=int, default=500)
    args = parser.parse_args()
    with transcript() as printed:
        commit_rates(args.commits)
    publish("sqlite_commit_rate", printed.getvalue())


def commit_rates(commits: int) -> None:
    """Print one row per setting: one-row transactions per second."""
    print("| journal_mode | synchronous | preset | one-row commits/s |")
    print("|---|---|---|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        for journal, synchronous, preset in SETTINGS:
            connection = sqlite3.connect(Path(scratch) / f"{journal}-{synchronous}.db",
                                         isolation_level=None)  # fmt: skip
            connection.execute(f"PRAGMA journal_mode = {journal}")
            connection.execute(f"PRAGMA synchronous = {synchronous}")
            connection.execute("CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER)")
            began = time.perf_counter()
            for i in range(commits):
                connection.execute("BEGIN")
                connection.execute("INSERT INTO t VALUES (?, ?)", (str(i), i))
                connection.execute("COMMIT")
            rate = commits / (time.perf_counter() - began)
            connection.close()
            print(f"| {journal} | {synchronous} | {preset} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
