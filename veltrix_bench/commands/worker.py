"""`vbench worker`: one load generator worker for a master on another machine."""

from __future__ import annotations

import sys

from veltrix_bench import lifeline
from veltrix_bench.errors import UsageError
from veltrix_bench.run.target import MAX_PORT


def worker(master: str) -> int:
    """The worker's exit code once its master says quit (or it is interrupted)."""
    host, _, port = master.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= MAX_PORT:
        raise UsageError(f"--master '{master}': expected HOST:PORT, PORT from 1 to {MAX_PORT}")
    command = [sys.executable, "-m", "veltrix_bench.load.worker", f"--master={master}"]
    # gevent and Locust stay out of this process; the worker dies with it (kill -9 too)
    with lifeline.popen(command) as process:
        try:
            return process.wait()
        except KeyboardInterrupt:  # the worker got the same Ctrl-C and finishes its share
            return process.wait()
