"""The load generator process: `python -m veltrix_bench.load.generator SPEC.json`, or with `-`
for SPEC.json: the spec's path then comes as one line on stdin, so that the process can start
(and import gevent and Locust) before its spec is known; end of input without one ends it.

Locust runs embedded. The process reads the spec and runs one load window over its shares:
one share on Locust's local runner, or (more processes, or workers from elsewhere) a share
per worker through Locust's master. It writes latency.hlog / service.hlog into the spec's
out_dir and speaks the line protocol of `veltrix_bench.load.protocol` on stdout (everything
else goes to stderr). SIGINT or SIGTERM stops it within about a second with partial
results (exit 0); a fatal problem prints an error line and exits 1.
"""

# gevent must patch before ssl/urllib3/requests are imported anywhere (see DESIGN.md),
# so every other import comes after the patch.
# ruff: noqa: E402
from gevent import monkey

monkey.patch_all()

import logging
import sys
from pathlib import Path

import gevent

from veltrix_bench.errors import RunFailed
from veltrix_bench.load.local import LocalShares
from veltrix_bench.load.master import RemoteShares
from veltrix_bench.load.process import (
    LineWriter,
    StopRequest,
    hunts_for,
    raise_open_file_limit,
    start_process,
)
from veltrix_bench.load.protocol import Error
from veltrix_bench.load.spec import LoadSpec
from veltrix_bench.load.window import Shares, WindowRun

log = logging.getLogger("vbench.load")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    # only protocol lines may reach stdout: anything else printed goes to stderr
    out = LineWriter(sys.stdout)
    sys.stdout = sys.stderr
    stop = start_process()
    if len(args) != 1:
        out.emit(Error(message="usage: python -m veltrix_bench.load.generator SPEC.json|-"))
        return 1
    spec_path = args[0] if args[0] != "-" else _path_on_stdin(stop)
    if spec_path is None:
        return 0  # stopped before a load was given: nothing ran, nothing to say
    try:
        spec = LoadSpec.from_json(Path(spec_path).read_bytes())
    except (OSError, ValueError) as exc:
        out.emit(Error(message=f"cannot read load spec {spec_path}: {exc}"))
        return 1
    raise_open_file_limit(spec)
    try:
        return WindowRun(spec, shares_for(spec, stop, out), stop, out).run()
    except RunFailed as exc:
        out.emit(Error(message=exc.message))
    except Exception as exc:
        log.exception("generator failed")
        out.emit(Error(message=f"generator failed: {type(exc).__name__}: {exc}"))
    return 1


def _path_on_stdin(stop: StopRequest) -> str | None:
    """The first line of stdin, read off the event loop so that a stop request still counts;
    None at end of input or on a stop."""
    reading = gevent.get_hub().threadpool.spawn(sys.stdin.readline)
    gevent.wait([reading, stop.event], count=1)
    line = reading.get() if reading.ready() and not stop.requested else ""
    return line.strip() or None


def shares_for(spec: LoadSpec, stop: StopRequest, out: LineWriter) -> Shares:
    """A share per worker through Locust's master, or the one share of a local run."""
    if spec.distributed:
        return RemoteShares(spec, stop, out)
    hunts = hunts_for(spec, stop)
    if isinstance(hunts, str):
        raise RunFailed(hunts)
    return LocalShares(spec, hunts, stop)


if __name__ == "__main__":
    sys.exit(main())
