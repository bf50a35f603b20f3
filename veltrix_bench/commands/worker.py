"""`vbench worker`: one load generator worker for a master on another machine."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from veltrix_bench.errors import UsageError
from veltrix_bench.run.target import MAX_PORT


def worker(master: str) -> NoReturn:
    """Become the worker (`python -m veltrix_bench.load.worker`); it runs until its master
    says quit, and its exit code is this command's."""
    host, _, port = master.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= MAX_PORT:
        raise UsageError(f"--master '{master}': expected HOST:PORT, PORT from 1 to {MAX_PORT}")
    command = [sys.executable, "-m", "veltrix_bench.load.worker", f"--master={master}"]
    # exec, not a child: gevent and Locust still never load in the CLI's code, signals reach
    # the worker itself (a killed child-runner left its worker running), and the pid the
    # master names in its messages is the one the user started
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)
