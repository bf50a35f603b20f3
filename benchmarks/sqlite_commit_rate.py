"""SQLite alone, no HTTP: single-row transactions per second under each preset's settings.

    python benchmarks/sqlite_commit_rate.py [--commits 500]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

SETTINGS = (("delete", "full", "default"), ("wal", "normal", "tuned"), ("wal", "full", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=500)
    args = parser.parse_args()
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
            for i in range(args.commits):
                connection.execute("BEGIN")
                connection.execute("INSERT INTO t VALUES (?, ?)", (str(i), i))
                connection.execute("COMMIT")
            rate = args.commits / (time.perf_counter() - began)
            connection.close()
            print(f"| {journal} | {synchronous} | {preset} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
