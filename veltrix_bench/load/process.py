"""What every generator process sets up: logs, the stop request, stdout lines, files, hunts.

Shared by the entry points (`generator`, `worker`); it patches nothing itself: each entry
point patches gevent before it imports this module.
"""

from __future__ import annotations

import json
import logging
import resource
import signal
import sys
import urllib.error
import urllib.request
from typing import IO

import gevent
from gevent.event import Event
from gevent.pool import Pool

from veltrix_bench.load import liveness
from veltrix_bench.load.players import Hunt
from veltrix_bench.load.protocol import Line, encode
from veltrix_bench.load.spec import LoadSpec

log = logging.getLogger("vbench.load")

HUNT_FETCH_TIMEOUT_S = 5.0
HUNT_FETCH_CONCURRENCY = 16
SPARE_FILES = 256


class LineWriter:
    """Writes protocol lines to the real stdout, flushed one by one."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def emit(self, line: Line) -> None:
        self._stream.write(encode(line) + "\n")
        self._stream.flush()


class StopRequest:
    """Set by SIGINT/SIGTERM; every wait in the run also waits on it."""

    def __init__(self) -> None:
        self.event = Event()

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def __call__(self) -> None:
        if not self.event.is_set():
            log.warning("stop requested: finishing with partial results")
        self.event.set()


def start_process() -> StopRequest:
    """Logs to stderr, the keep-alive check, and SIGINT/SIGTERM turned into a stop request."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
    )
    liveness.install()
    stop = StopRequest()
    gevent.signal_handler(signal.SIGINT, stop)
    gevent.signal_handler(signal.SIGTERM, stop)
    return stop


def raise_open_file_limit(spec: LoadSpec, shares: int = 1) -> None:
    """Every in-flight request holds a socket: lift the soft limit toward the hard one."""
    users = spec.max_in_flight if spec.model == "open" else spec.users
    needed = users // shares + SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new_soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        if new_soft < needed:
            log.warning(
                "open-file limit %d is below the %d this run may need: "
                "connections beyond it will fail",
                new_soft,
                needed,
            )


def hunts_for(spec: LoadSpec, stop: StopRequest) -> list[Hunt] | str:
    """The hunts the players play (none needed for a custom locustfile), or what went wrong."""
    placeholder = [Hunt(1, (1,), ((1, ""),), (1,))]
    if spec.locustfile is not None:
        return placeholder
    fetch = gevent.spawn(fetch_hunts, spec.target, spec.world.hunts)
    gevent.wait([fetch, stop.event], count=1)
    if not fetch.ready():
        fetch.kill()
        # stopped before anything ran: still leave files and a final line behind
        return placeholder
    hunts: list[Hunt] | str = fetch.value
    return hunts


def fetch_hunts(target: str, count: int) -> list[Hunt] | str:
    """GET /v1/hunts/1..count before the load starts: the hunts, or why they are missing."""
    answers = Pool(HUNT_FETCH_CONCURRENCY).map(
        lambda number: _fetch_hunt(target, number), range(1, count + 1)
    )
    problems = [answer for answer in answers if isinstance(answer, str)]
    return problems[0] if problems else answers


def _fetch_hunt(target: str, number: int) -> Hunt | str:
    url = f"{target}/v1/hunts/{number}"
    try:
        with urllib.request.urlopen(url, timeout=HUNT_FETCH_TIMEOUT_S) as answer:
            return Hunt.from_json(json.loads(answer.read()))
    except urllib.error.HTTPError as exc:
        return f"GET {url} answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"GET {url} failed: {getattr(exc, 'reason', exc)}"
    except ValueError as exc:
        return f"GET {url}: {exc}"
