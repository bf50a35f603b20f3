"""A Locust worker of a distributed run: `python -m veltrix_bench.load.worker --master HOST:PORT`.

It connects to the master (`vbench run --processes N` starts N of these itself; `vbench
worker` starts one on another machine), receives the load spec, share k of n and, for a
custom locustfile, the file's source; builds its share (every n-th player and intended
send time), lets Locust's master spawn its users, opens the window at the master's
start time and ships each second's histograms and counts, then its whole-run result,
in Locust's worker-report messages. Logs go to stderr; exit 0 after the master's quit.
"""

# ruff: noqa: E402
from gevent import monkey

monkey.patch_all()

import argparse
import logging
import os
import signal
import socket
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import gevent
import locust.runners
from gevent.event import AsyncResult, Event
from locust.env import Environment
from locust.runners import WorkerRunner

from veltrix_bench.load import liveness
from veltrix_bench.load.generator import SPARE_FILES, StopRequest, hunts_for, raise_open_file_limit
from veltrix_bench.load.merge import REPORT_KEY, IntervalReport, ShareResult
from veltrix_bench.load.protocol import LateStarts, RequestCounts
from veltrix_bench.load.share import LoadShare
from veltrix_bench.load.spec import LoadSpec
from veltrix_bench.load.traffic import LocustfileError
from veltrix_bench.quietgc import QuietCollector

log = logging.getLogger("vbench.worker")

REPORT_INTERVAL_S = 0.25
"""Locust's worker-report period (3 s by default): the live view waits on it."""
SETUP_TIMEOUT_S = 120.0
WARM_UP_S = 30.0
RESULT_SENT_TIMEOUT_S = 5.0
QUIT_TIMEOUT_S = 30.0
KILL_USERS_TIMEOUT_S = 1.0

# message types between master and workers (besides Locust's own)
HELLO, SETUP, READY, WARM, WINDOW, CLOSE = (
    "vbench_hello", "vbench_setup", "vbench_ready", "vbench_warm", "vbench_window", "vbench_close",
)  # fmt: skip


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
        self.runner.register_message(SETUP, lambda msg, **_: self.setup.set(msg.data))
        self.runner.register_message(WINDOW, lambda msg, **_: self.window.set(msg.data))
        self.runner.register_message(CLOSE, lambda msg, **_: self.close.set(msg.data))
        self.env.events.report_to_master.add_listener(self._on_report)
        self.name = f"{socket.gethostname()} pid {os.getpid()}"
        # only now can the master's answer be handled: ask for the setup
        self.runner.send_message(HELLO, {"pid": os.getpid(), "name": self.name})

    def _on_report(self, client_id: str, data: dict[str, Any]) -> None:
        """Ride along in Locust's periodic worker report: new intervals, then the result."""
        data[REPORT_KEY] = {
            "intervals": [report.to_message() for report in self._intervals],
            "result": self._result.to_message() if self._result else None,
        }
        self._intervals = []
        if self._result is not None:
            self.result_sent.set()

    def _wait(self, result: AsyncResult, timeout: float) -> Any:
        gevent.wait([result, self.stop.event, self.master_quit], count=1, timeout=timeout)
        return result.value if result.ready() else None

    def run(self) -> int:
        setup = self._wait(self.setup, SETUP_TIMEOUT_S)
        if setup is None:
            log.error("no setup from the master")
            return 1
        spec = LoadSpec.from_json(setup["spec"])
        index, shares = int(setup["index"]), int(setup["shares"])
        self.name = f"worker {index} ({self.name})"
        spec = self._materialize_locustfile(spec, setup.get("locustfile"))
        raise_open_file_limit(
            (spec.max_in_flight if spec.model == "open" else spec.users) // shares + SPARE_FILES
        )
        hunts = hunts_for(spec, self.stop)
        try:
            if isinstance(hunts, str):
                raise LocustfileError(hunts)
            load = LoadShare(spec, hunts, (index, shares))
        except (LocustfileError, ValueError) as exc:
            self.runner.send_message(READY, {"index": index, "error": str(exc)})
            self._wait(self.close, QUIT_TIMEOUT_S)
            return 1
        load.attach(self.env)
        self.runner.send_message(READY, {"index": index, "name": self.name})
        try:
            self._run_window(load, index)
        finally:
            self.runner.user_greenlets.kill(block=True, timeout=KILL_USERS_TIMEOUT_S)
        # Locust's master sends quit when the run is over; it kills the runner's greenlets
        gevent.wait([self.master_quit, self.stop.event], count=1, timeout=QUIT_TIMEOUT_S)
        return 0

    def _materialize_locustfile(
        self, spec: LoadSpec, locustfile: dict[str, str] | None
    ) -> LoadSpec:
        """The master sends the file's source: import this copy, not a path of its machine."""
        if locustfile is None:
            return spec
        folder = Path(tempfile.mkdtemp(prefix="vbench-locustfile-"))
        path = folder / locustfile["name"]
        path.write_text(locustfile["source"], encoding="utf-8")
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
        self.runner.send_message(WARM, {"index": index, "users": self.runner.user_count})
        window = self._wait(self.window, SETUP_TIMEOUT_S)
        ticker = None
        if window is not None and not self.close.ready():
            start_perf = time.perf_counter() + float(window["opens_in_s"])
            load.open_window(start_perf)
            ticker = gevent.spawn(self._tick_every_second, load)
        close = self._wait(self.close, load.spec.duration_s + SETUP_TIMEOUT_S)
        interrupted = self.stop.requested or bool(close and close.get("interrupted"))
        load.close_window(interrupted)
        stop_drain = Event()
        if interrupted:
            stop_drain.set()
        drained = load.drain(stop_drain)
        if ticker is not None:
            ticker.kill()
        load.stop_canary()
        if load.window_start_perf:
            self._intervals.append(IntervalReport.of(*load.close_interval(load.elapsed_s())))
        self._result = self._result_of(load, interrupted, drained)
        self.result_sent.wait(timeout=RESULT_SENT_TIMEOUT_S)

    def _tick_every_second(self, load: LoadShare) -> None:
        second = 1
        while True:
            gevent.sleep(max(0.0, load.window_start_perf + second - time.perf_counter()))
            self._intervals.append(IntervalReport.of(*load.close_interval(second)))
            second += 1

    @staticmethod
    def _result_of(load: LoadShare, interrupted: bool, drained: bool) -> ShareResult:
        recorder = load.recorder
        acked, sent, wins = load.ledger()
        return ShareResult(
            interrupted=interrupted,
            drained=drained,
            started=recorder.started,
            unanswered=recorder.in_flight,
            requests=RequestCounts(
                recorder.total.requests,
                recorder.total.ok,
                recorder.total.errors,
                recorder.total.rejected,
            ),  # fmt: skip
            late_starts=LateStarts(recorder.total.late_cap, recorder.total.late_generator),
            acked_by_type=acked,
            sent_by_type=sent,
            wins_seen=wins,
            error_samples=list(recorder.error_samples),
            latency=recorder.latency.encode(),
            service=recorder.service.encode(),
            start_delay=recorder.start_delay.encode(),
            loop_lag=recorder.loop_lag.encode(),
            peak_rss_mb=QuietCollector.peak_rss_mb(),
            cpu_share=round(load.cpu_share(), 3),
        )


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
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
    )
    try:
        host, port = parse_master(args.master)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    locust.runners.WORKER_REPORT_INTERVAL = REPORT_INTERVAL_S
    liveness.install()
    stop = StopRequest()
    gevent.signal_handler(signal.SIGINT, stop)
    gevent.signal_handler(signal.SIGTERM, stop)
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
        return 1
    log.info("connected to the master at %s:%d", host, port)
    try:
        return worker.run()
    except Exception:
        log.exception("worker failed")
        return 1


if __name__ == "__main__":
    sys.exit(main())
