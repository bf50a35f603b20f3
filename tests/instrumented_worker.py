"""A vbench worker instrumented for the distributed tests: `python -m tests.instrumented_worker
[--keep DIR] [--clock-offset SECONDS] --master HOST:PORT`.

It is `vbench worker`'s own process (`veltrix_bench.load.worker.main`), unchanged except:
- `--keep DIR`: the whole-run result it sends to the master is also written to
  DIR/<pid>.latency and DIR/<pid>.service (the encoded HDR histograms that go over the wire).
  The run directory holds only the master's merge; this is the witness on each worker's side.
- `--clock-offset S`: its wall clock (`time.time`) runs S seconds off the master's, as another
  machine's may.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any


def keep_results_in(folder: Path) -> None:
    """Every whole-run result this process's share builds is also written to `folder`."""
    from veltrix_bench.load.messages import ShareResult
    from veltrix_bench.load.share import LoadShare

    finish = LoadShare.finish_window

    def finish_and_keep(share: LoadShare, *args: Any) -> ShareResult:
        result = finish(share, *args)
        (folder / f"{os.getpid()}.latency").write_bytes(result.latency)
        (folder / f"{os.getpid()}.service").write_bytes(result.service)
        return result

    LoadShare.finish_window = finish_and_keep  # type: ignore[method-assign]


def offset_wall_clock(seconds: float) -> None:
    """time.time() from now on reads `seconds` off (before anything imports it by name)."""
    real_time = time.time
    time.time = lambda: real_time() + seconds


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.instrumented_worker")
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--clock-offset", type=float, default=0.0)
    options, worker_argv = parser.parse_known_args()
    if options.clock_offset:
        offset_wall_clock(options.clock_offset)
    from veltrix_bench.load import worker  # monkey-patches for gevent on import

    if options.keep is not None:
        keep_results_in(options.keep)
    return worker.main(worker_argv)


if __name__ == "__main__":
    sys.exit(main())
