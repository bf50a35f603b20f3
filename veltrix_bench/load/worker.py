"""A Locust worker of a distributed run: `python -m veltrix_bench.load.worker --master HOST:PORT`.

It connects to the master (`vbench run --processes N` starts N of these itself; `vbench
worker` starts one on another machine), receives the load spec, share k of n and, for a
custom locustfile, the file's source; builds its share (every n-th player and intended
send time), lets Locust's master spawn its users, opens the window at the master's
start time and ships each second's histograms and counts, then its whole-run result,
in Locust's worker-report messages. Logs go to stderr; exit 0 after the master's quit, 3
when its share could not run, 130 when stopped before its master answered (its exit code
is `vbench worker`'s: see errors.py).
"""

# gevent must patch before ssl/urllib3/requests are imported anywhere (see DESIGN.md),
# so every other import comes after the patch.
# ruff: noqa: E402
from gevent import monkey

monkey.patch_all()

import argparse
import logging
import os
import socket
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import gevent
import locust.runners
from gevent.event import AsyncResult, Event
from locust.env import Environment
from locust.runners import WorkerRunner

from veltrix_bench.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_USAGE,
    RunFailed,
)
from veltrix_bench.load.messages import (
    CLOSE,
    HELLO,
    PROTOCOL,
    READY,
    SETUP,
    WARM,
    WINDOW,
    Close,
    Hello,
    IntervalReport,
    LocustfileSource,
    Report,
    Setup,
    ShareResult,
    Warm,
    WindowStart,
    WorkerReady,
    pack,
    unpack,
)
from veltrix_bench.load.process import StopRequest, hunts_for, raise_open_file_limit, start_process
from veltrix_bench.load.share import LoadShare
from veltrix_bench.load.spec import LoadSpec

log = logging.getLogger("vbench.worker")

REPORT_INTERVAL_S = 0.25
"""Locust's worker-report period (3 s by default): the live view waits on it."""
SETUP_TIMEOUT_S = 120.0
WARM_UP_S = 30.0
RESULT_SENT_TIMEOUT_S = 5.0
QUIT_TIMEOUT_S = 30.0
KILL_USERS_TIMEOUT_S = 1.0

Message = TypeVar("Message")


class Worker:
    def __init__(self, master_host: str, master_port: int, stop: StopRequest) -> None:
        self.stop = stop
        self.env = Environment(user_classes=[])
        self.runner: WorkerRunner = self.env.create_worker_runner(master_host, master_port)
        self.setup: AsyncResult = AsyncResult()
        self.window: AsyncResult = AsyncResult()
        self.close: AsyncResult = AsyncResult()
        self.result_sent = Event()
        self._intervals: list[IntervalReport] = []
        self._result: ShareResult | None = None
        self.master_quit = gevent.spawn(self.runner.greenlet.join)
        """Done once Locust's master sent quit (or the connection was given up)."""
        self._receive(SETUP, Setup, self.setup)
        self._receive(WINDOW, WindowStart, self.window)
        self._receive(CLOSE, Close, self.close)
        self.env.events.report_to_master.add_listener(self._on_report)
        self.name = f"{socket.gethostname()} pid {os.getpid()}"
        # only now can the master's answer be handled: ask for the setup
        self.runner.send_message(HELLO, pack(Hello(os.getpid(), self.name, PROTOCOL)))

    def _receive(self, kind: str, message: type[Message], into: AsyncResult) -> None:
        self.runner.register_message(kind, lambda msg, **_: into.set(unpack(msg.data, message)))

    def _on_report(self, client_id: str, data: dict[str, Any]) -> None:
        """Ride along in Locust's periodic worker report: new intervals, then the result."""
        data.update(pack(Report(self._intervals, self._result)))
        self._intervals = []
        if self._result is not None:
            self.result_sent.set()

    def _wait(self, result: AsyncResult, timeout: float) -> Any:
        gevent.wait([result, self.stop.event, self.master_quit], count=1, timeout=timeout)
        return result.value if result.ready() else None

    def run(self) -> int:
        setup: Setup | None = self._wait(self.setup, SETUP_TIMEOUT_S)
        if setup is None:
            log.error("no setup from the master")
            return EXIT_RUN_FAILED
        self.name = f"worker {setup.index} ({self.name})"
        spec = self._materialize_locustfile(setup.spec, setup.locustfile)
        raise_open_file_limit(spec, setup.shares)
        hunts = hunts_for(spec, self.stop)
        try:
            if isinstance(hunts, str):
                raise RunFailed(hunts)
            load = LoadShare(spec, hunts, (setup.index, setup.shares))
        except (RunFailed, ValueError) as exc:
            log.error("%s", exc)
            self.runner.send_message(READY, pack(WorkerReady(setup.index, self.name, str(exc))))
            self._wait(self.close, QUIT_TIMEOUT_S)
            return EXIT_RUN_FAILED
        load.attach(self.env)
        self.runner.send_message(READY, pack(WorkerReady(setup.index, self.name)))
        try:
            self._run_window(load, setup.index)
        finally:
            self.runner.user_greenlets.kill(block=True, timeout=KILL_USERS_TIMEOUT_S)
        # Locust's master sends quit when the run is over; it kills the runner's greenlets
        gevent.wait([self.master_quit, self.stop.event], count=1, timeout=QUIT_TIMEOUT_S)
        return EXIT_OK

    def _materialize_locustfile(self, spec: LoadSpec, source: LocustfileSource | None) -> LoadSpec:
        """The master sends the file's source: import this copy, not a path of its machine."""
        if source is None:
            return spec
        path = Path(tempfile.mkdtemp(prefix="vbench-locustfile-")) / source.name
        path.write_text(source.source, encoding="utf-8")
        return replace(spec, locustfile=str(path))

    def _run_window(self, load: LoadShare, index: int) -> None:
        shared = load.shared
        # wait for Locust's master to spawn this worker's part of the users
        while not self.stop.requested and not self.close.ready():
            if self.runner.worker_state == locust.runners.STATE_RUNNING and self.runner.user_count:
                break
            gevent.sleep(0.05)
        shared.expect_users(self.runner.user_count)
        gevent.wait([shared.all_warm, self.stop.event, self.close], count=1, timeout=WARM_UP_S)
        self.runner.send_message(WARM, pack(Warm(index, self.runner.user_count)))
        window: WindowStart | None = self._wait(self.window, SETUP_TIMEOUT_S)
        if window is not None and not self.close.ready():
            load.open_window(time.perf_counter() + window.opens_in_s, self._ship)
        close: Close | None = self._wait(self.close, load.spec.duration_s + SETUP_TIMEOUT_S)
        interrupted = self.stop.requested or bool(close and close.interrupted)
        self._result = load.finish_window(interrupted, self.stop.event, self._ship)
        self.result_sent.wait(timeout=RESULT_SENT_TIMEOUT_S)

    def _ship(self, report: IntervalReport) -> None:
        self._intervals.append(report)


def _connect(host: str, port: int, stop: StopRequest) -> Worker | None:
    """The worker, once the master answered; None if Locust gave up on it."""
    try:
        return Worker(host, port, stop)
    except ConnectionError:
        return None


def parse_master(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--master '{text}': expected HOST:PORT")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m veltrix_bench.load.worker")
    parser.add_argument("--master", required=True, help="HOST:PORT of the vbench master")
    args = parser.parse_args(argv)
    stop = start_process()
    try:
        host, port = parse_master(args.master)
    except ValueError as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    # a private name of Locust's (tests/test_load_patches.py pins it; pyproject bounds it)
    locust.runners.WORKER_REPORT_INTERVAL = REPORT_INTERVAL_S
    log.info("connecting to the master at %s:%d", host, port)
    # Locust retries for five minutes without a look at signals: connect in a greenlet, so
    # Ctrl-C or SIGTERM still ends a worker whose master never answers
    connecting = gevent.spawn(_connect, host, port, stop)
    gevent.wait([connecting, stop.event], count=1)
    worker = connecting.value if connecting.ready() else None
    if worker is None:
        connecting.kill()
        log.error(
            "no answer from the master at %s:%d (is `vbench run --expect-workers` listening "
            "there? see its --master-bind)",
            host,
            port,
        )
        return EXIT_INTERRUPTED if stop.requested else EXIT_RUN_FAILED
    log.info("connected to the master at %s:%d", host, port)
    try:
        return worker.run()
    except Exception:
        log.exception("worker failed")
        return EXIT_RUN_FAILED


if __name__ == "__main__":
    sys.exit(main())
