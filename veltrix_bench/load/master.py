"""The master of a distributed run: Locust's MasterRunner, its workers, merged results.

Runs inside the generator process when the spec asks for more than one process or for
workers from elsewhere. It starts the local workers, waits for every worker (with a
timeout that names the address they must reach), hands each one the spec and its share,
lets Locust spawn the users across them, opens the window at one start time for all,
merges the histograms and counts each worker reports into one tick per second and one
final result (the same stdout protocol as a local run), and reports a worker that dies
mid-run by name: `on_worker_loss` "fail" stops the run, "continue" goes on without it.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from locust import FastHttpUser, User
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner

from veltrix_bench import lifeline
from veltrix_bench.load.arrival import planned_slots
from veltrix_bench.load.generator import (
    Protocol,
    StopRequest,
    lead_time_s,
)
from veltrix_bench.load.merge import (
    REPORT_KEY,
    IntervalReport,
    ShareResult,
    WorkerTally,
    merge_interval,
    merge_results,
)
from veltrix_bench.load.protocol import Error, Final, LoadWindow, Ready
from veltrix_bench.load.recorder import LATENCY_LOG, SERVICE_LOG, IntervalLog, summarize
from veltrix_bench.load.spec import LoadSpec
from veltrix_bench.load.traffic import LocustfileError, load_user_classes
from veltrix_bench.load.users import PLAYER_CLASS_NAME
from veltrix_bench.load.worker import CLOSE, HELLO, READY, SETUP, WARM, WINDOW

log = logging.getLogger("vbench.master")

POLL_S = 0.05
TICK_GRACE_S = 1.5
"""How long after a second ends the master waits for every worker's report of it."""
READY_TIMEOUT_S = 60.0
WARM_UP_TIMEOUT_S = 40.0
WINDOW_LEAD_S = 0.5
"""Time for the window message to reach every worker before the window opens."""
RESULT_GRACE_S = 10.0
WORKER_EXIT_TIMEOUT_S = 5.0


class RunFailed(Exception):
    """The distributed run cannot go on; the message is one line for the user."""


@dataclass
class _Assigned:
    index: int
    client_id: str
    tally: WorkerTally
    process: subprocess.Popen[bytes] | None = None
    ready: bool = False
    warm: bool = False


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host if host not in ("*", "0.0.0.0") else "", 0))
        return int(probe.getsockname()[1])


class MasterRun:
    def __init__(self, spec: LoadSpec, stop: StopRequest, out: Protocol) -> None:
        self.spec = spec
        self.stop = stop
        self.out = out
        self.env = Environment(user_classes=self._user_classes(), host=spec.target)
        bind = "*" if spec.master_bind in ("0.0.0.0", "*") else spec.master_bind
        self.port = spec.master_port or _free_port(spec.master_bind)
        self.runner: MasterRunner = self.env.create_master_runner(bind, self.port)
        self.assigned: dict[str, _Assigned] = {}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.ready_errors: list[str] = []
        self.lost: list[str] = []
        self.loss_event = Event()
        self.interval_start = 0.0
        self.window_start = self.window_end = time.time()
        self.window_start_perf = 0.0
        self.logs: tuple[IntervalLog, IntervalLog] | None = None
        self.runner.register_message(HELLO, self._on_hello)
        self.runner.register_message(READY, self._on_ready)
        self.runner.register_message(WARM, self._on_warm)
        self.env.events.worker_report.add_listener(self._on_report)

    def _user_classes(self) -> list[type[User]]:
        """Classes by name only: the master dispatches users, the workers run them."""
        if self.spec.locustfile is not None:
            return load_user_classes(Path(self.spec.locustfile), self.spec.target)
        stub: type[User] = type(PLAYER_CLASS_NAME, (FastHttpUser,), {"abstract": False})
        return [stub]

    # -- messages from workers -------------------------------------------------------------
    def _on_hello(self, environment: Environment, msg: Any, **_: Any) -> None:
        client_id = msg.node_id
        if client_id in self.assigned or len(self.assigned) >= self.spec.workers:
            if client_id not in self.assigned:
                log.warning("an extra worker connected (%s): not used", client_id)
            return
        index = len(self.assigned)
        pid = int(msg.data.get("pid", 0))
        process = next((p for p in self.processes if p.pid == pid), None)
        name = f"worker {index} ({msg.data.get('name', client_id)})"
        self.assigned[client_id] = _Assigned(index, client_id, WorkerTally(name), process)
        locustfile = None
        if self.spec.locustfile is not None:
            path = Path(self.spec.locustfile)
            locustfile = {"name": path.name, "source": path.read_text(encoding="utf-8")}
        self.runner.send_message(
            SETUP,
            {
                "spec": self.spec.to_json(),
                "index": index,
                "shares": self.spec.workers,
                "locustfile": locustfile,
            },
            client_id,
        )
        log.info("%s connected", name)

    def _on_ready(self, environment: Environment, msg: Any, **_: Any) -> None:
        worker = self.assigned.get(msg.node_id)
        if worker is None:
            return
        if msg.data.get("error"):
            self.ready_errors.append(f"{worker.tally.name}: {msg.data['error']}")
        worker.ready = True

    def _on_warm(self, environment: Environment, msg: Any, **_: Any) -> None:
        if (worker := self.assigned.get(msg.node_id)) is not None:
            worker.warm = True

    def _on_report(self, client_id: str, data: dict[str, Any]) -> None:
        worker = self.assigned.get(client_id)
        report = data.get(REPORT_KEY)
        if worker is None or not report or worker.tally.lost:
            return
        for interval in report.get("intervals", []):
            worker.tally.add_interval(IntervalReport.from_message(interval))
        if report.get("result") is not None and worker.tally.result is None:
            worker.tally.result = ShareResult.from_message(report["result"])

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> None:
        ticker = watcher = None
        try:
            self._start_local_workers()
            self._wait_for_workers()
            self._spawn()
            if not self.stop.requested:
                self._open_window()
                ticker = gevent.spawn(self._tick_every_second)
                watcher = gevent.spawn(self._watch_workers)
                gevent.wait(
                    [self.stop.event, self.loss_event],
                    count=1,
                    timeout=max(
                        0.0, self.window_start_perf + self.spec.duration_s - time.perf_counter()
                    ),
                )
                self.window_end = time.time()
            interrupted = self.stop.requested or self.loss_event.is_set()
            self._send_all(CLOSE, {"interrupted": interrupted})
            self._wait_for_results(watcher)
            if ticker is not None:
                ticker.kill()
            self._finish(interrupted)
        finally:
            for background in (ticker, watcher):
                if background is not None:
                    background.kill()
            self._close_logs()
            self.runner.quit()
            self._stop_local_workers()

    def _start_local_workers(self) -> None:
        host = "127.0.0.1" if self.spec.master_bind in ("*", "0.0.0.0") else self.spec.master_bind
        for _ in range(self.spec.local_workers):
            self.processes.append(
                lifeline.popen(
                    [
                        sys.executable,
                        "-m",
                        "veltrix_bench.load.worker",
                        f"--master={host}:{self.port}",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=sys.stderr,
                    stderr=sys.stderr,
                )
            )

    def _wait_until(self, done: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            if self.stop.requested or time.monotonic() >= deadline:
                return False
            self._check_local_workers()
            gevent.sleep(POLL_S)
        return True

    def _check_local_workers(self) -> None:
        """Before the window: a local worker that exits is fatal."""
        for process in self.processes:
            if process.poll() is not None:
                raise RunFailed(
                    f"local worker pid {process.pid} exited with code "
                    f"{process.returncode} before the load started (see load.log)"
                )

    def _wait_for_workers(self) -> None:
        expected = self.spec.workers
        address = f"{self.spec.master_bind}:{self.port}"
        if not self._wait_until(lambda: len(self.assigned) >= expected, self.spec.worker_timeout_s):
            if self.stop.requested:
                return
            hint = (
                f"; start them with `vbench worker --master HOST:{self.port}` where HOST reaches "
                f"this machine (and give --master-bind an address they can reach)"
                if self.spec.expect_workers
                else ""
            )
            raise RunFailed(
                f"only {len(self.assigned)} of {expected} workers connected to the master at "
                f"{address} within {self.spec.worker_timeout_s:.0f} s{hint}"
            )
        all_ready = self._wait_until(
            lambda: all(w.ready for w in self.assigned.values()), READY_TIMEOUT_S
        )
        if not all_ready and not self.stop.requested:
            raise RunFailed(f"workers not ready within {READY_TIMEOUT_S:.0f} s")
        if self.ready_errors:
            raise RunFailed("; ".join(self.ready_errors))

    def _spawn(self) -> None:
        if self.stop.requested:
            return
        users = self.spec.max_in_flight if self.spec.model == "open" else self.spec.users
        users = max(users, self.spec.workers)  # every worker gets at least one user
        self.runner.start(users, spawn_rate=users)
        all_warm = self._wait_until(
            lambda: all(w.warm for w in self.assigned.values()), WARM_UP_TIMEOUT_S
        )
        if not all_warm and not self.stop.requested:
            log.warning(
                "not every worker warmed up within %.0f s: starting anyway", WARM_UP_TIMEOUT_S
            )

    def _open_window(self) -> None:
        lead = WINDOW_LEAD_S + lead_time_s(self.spec, self.runner.user_count)
        start_epoch = time.time() + lead
        self.window_start_perf = time.perf_counter() + lead
        # a delay, not a wall-clock time: a worker elsewhere runs on its own machine's clock
        self._send_all(WINDOW, {"opens_in_s": lead})
        gevent.sleep(max(0.0, self.window_start_perf - time.perf_counter()))
        self.env.stats.reset_all()  # Locust's own figures cover the window only
        self.window_start = self.window_end = start_epoch
        self.spec.out_dir.mkdir(parents=True, exist_ok=True)
        self.logs = (
            IntervalLog(
                self.spec.out_dir / LATENCY_LOG, start_epoch, "latency from intended send time"
            ),
            IntervalLog(
                self.spec.out_dir / SERVICE_LOG, start_epoch, "service time from actual send"
            ),
        )
        self.out.emit(Ready(started_at=round(start_epoch, 3), users=self.runner.user_count))

    def _send_all(self, kind: str, data: dict[str, Any]) -> None:
        for worker in self.assigned.values():
            if worker.tally.lost is None:
                self.runner.send_message(kind, data, worker.client_id)

    def _tick_every_second(self) -> None:
        second = 1
        while True:
            due = self.window_start_perf + second
            gevent.sleep(max(0.0, due - time.perf_counter()))
            deadline = due + TICK_GRACE_S
            while time.perf_counter() < deadline and not all(
                w.tally.settled or w.tally.has_interval(second) for w in self.assigned.values()
            ):
                gevent.sleep(POLL_S)
            self._emit_tick(self.interval_start, second, second)
            self.interval_start = second
            second += 1

    def _emit_tick(self, start_s: float, end_s: float, until_t: float | None) -> None:
        """Merge what every worker reported up to `until_t` (all: None) into one tick."""
        reports = [r for w in self.assigned.values() for r in w.tally.take_intervals(until_t)]
        if until_t is None and not reports:
            return
        rate = self.spec.target_rate_at(end_s - 0.5)
        tick, latency, service = merge_interval(
            end_s, reports, None if rate is None else round(rate, 3)
        )
        if self.logs is not None:
            self.logs[0].write(latency, start_s, end_s)
            self.logs[1].write(service, start_s, end_s)
        self.out.emit(tick)

    def _watch_workers(self) -> None:
        while True:
            for worker in self.assigned.values():
                if worker.tally.settled:
                    continue
                why = self._why_lost(worker)
                if why is not None:
                    self._lose(worker, why)
            gevent.sleep(POLL_S * 4)

    def _why_lost(self, worker: _Assigned) -> str | None:
        if worker.process is not None and worker.process.poll() is not None:
            code = worker.process.returncode
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"
            return f"its process exited ({how})"
        client = self.runner.clients.get(worker.client_id)
        if client is None:
            return "it disconnected from the master"
        if client.state == STATE_MISSING:
            return "it stopped sending heartbeats"
        return None

    def _lose(self, worker: _Assigned, why: str) -> None:
        t = time.perf_counter() - self.window_start_perf
        message = f"{worker.tally.name} lost {t:.1f} s into the window: {why}"
        worker.tally.lost = message
        self.lost.append(message)
        log.error("%s", message)
        if self.spec.on_worker_loss == "fail":
            self.out.emit(Error(message=f"{message} (--on-worker-loss fail: stopping the run)"))
            self.loss_event.set()
        else:
            log.warning(
                "continuing without it (--on-worker-loss continue): its share of the "
                "load is not offered from now on"
            )

    def _wait_for_results(self, watcher: gevent.Greenlet | None) -> None:
        deadline = time.monotonic() + self.spec.drain_s + RESULT_GRACE_S
        while not all(w.tally.settled for w in self.assigned.values()):
            if time.monotonic() >= deadline:
                for worker in self.assigned.values():
                    if not worker.tally.settled:
                        self._lose(worker, "it sent no result after the window")
                break
            gevent.sleep(POLL_S)

    def _finish(self, interrupted: bool) -> None:
        if self.window_start_perf:
            elapsed = time.perf_counter() - self.window_start_perf
            self._emit_tick(self.interval_start, elapsed, None)
        else:
            self.window_start = self.window_end = time.time()
        self._close_logs()
        spec = self.spec
        window_s = self.window_end - self.window_start
        total = merge_results([w.tally for w in self.assigned.values()])
        locust_total = self.env.stats.total
        self.out.emit(
            Final(
                interrupted=interrupted,
                load_window=LoadWindow(round(self.window_start, 3), round(self.window_end, 3)),
                duration_s=round(window_s, 3),
                requests=total.requests,
                scheduled=planned_slots(spec.stages, window_s)
                if spec.model == "open"
                else total.started,
                started=total.started,
                late_starts=total.late_starts,
                acked_by_type=total.acked_by_type,
                sent_by_type=total.sent_by_type,
                wins_seen=total.wins_seen,
                drained=total.drained,
                unanswered=total.unanswered,
                locust_p99_ms=(
                    float(locust_total.get_response_time_percentile(0.99))
                    if locust_total.num_requests
                    else None
                ),
                error_samples=total.error_samples,
                latency_ms=summarize(total.latency),
                service_time_ms=summarize(total.service),
                start_delay_ms=summarize(total.start_delay),
                loop_lag_ms=summarize(total.loop_lag),
                generator_cpu_share=total.cpu_share,
                generator_peak_rss_mb=total.peak_rss_mb,
                processes=len(self.assigned),
                workers=total.workers,
                lost_workers=list(self.lost),
            )
        )

    def _close_logs(self) -> None:
        if self.logs is not None:
            for interval_log in self.logs:
                interval_log.close()
            self.logs = None

    def _stop_local_workers(self) -> None:
        deadline = time.monotonic() + WORKER_EXIT_TIMEOUT_S
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("local worker pid %d did not quit: killed", process.pid)
                process.kill()
                process.wait(2)


def run_master(spec: LoadSpec, stop: StopRequest, out: Protocol) -> int:
    """The distributed run; 0, or 1 after an error line (a lost worker under "fail")."""
    try:
        run = MasterRun(spec, stop, out)
    except LocustfileError as exc:
        out.emit(Error(message=str(exc)))
        return 1
    except SystemExit:  # Locust exits when the master port is taken
        out.emit(
            Error(
                message=f"the master port {spec.master_bind}:{spec.master_port} is busy "
                "(another vbench or Locust master?): pick one with --master-port"
            )
        )
        return 1
    try:
        run.run()
    except RunFailed as exc:
        out.emit(Error(message=str(exc)))
        return 1
    except Exception as exc:
        log.exception("master failed")
        out.emit(Error(message=f"generator master failed: {type(exc).__name__}: {exc}"))
        return 1
    return 1 if run.lost and spec.on_worker_loss == "fail" else 0
