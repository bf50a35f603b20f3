"""The distributed run's shares: a share per worker, reached through Locust's MasterRunner.

Runs inside the generator process when the spec asks for more than one process or for
workers from elsewhere. It starts the local workers, waits for every worker (with a
timeout that names the address they must reach), hands each one the spec and its share,
lets Locust spawn the users across them, opens every worker's window at one start time,
and feeds what each worker reports into its tally (the window merges them). A worker that
dies mid-run is reported by name: `on_worker_loss` "fail" stops the run, "continue" goes
on without it.
Imported inside generator processes only (after gevent's patching); it patches nothing.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import msgspec
from gevent.event import Event
from locust import User
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner

from veltrix_bench import lifeline
from veltrix_bench.errors import RunFailed
from veltrix_bench.load.merge import ShareTally
from veltrix_bench.load.messages import (
    CLOSE,
    HELLO,
    KEY,
    PROTOCOL,
    READY,
    SETUP,
    WARM,
    WINDOW,
    Close,
    Hello,
    LocustfileSource,
    Report,
    Setup,
    WindowStart,
    WorkerReady,
    pack,
    unpack,
)
from veltrix_bench.load.process import LineWriter, StopRequest
from veltrix_bench.load.protocol import Error
from veltrix_bench.load.spec import LoadSpec
from veltrix_bench.load.traffic import load_user_classes
from veltrix_bench.load.users import PLAYER_CLASS_NAME

log = logging.getLogger("vbench.master")

POLL_S = 0.05
READY_TIMEOUT_S = 60.0
WARM_UP_TIMEOUT_S = 40.0
WINDOW_LEAD_S = 0.5
"""Time for the window message to reach every worker before the window opens."""
WORKER_EXIT_TIMEOUT_S = 5.0


@dataclass
class _Worker:
    index: int
    client_id: str
    tally: ShareTally
    process: subprocess.Popen[bytes] | None = None
    ready: bool = False
    warm: bool = False


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host if host not in ("*", "0.0.0.0") else "", 0))
        return int(probe.getsockname()[1])


class RemoteShares:
    """Share k of n in worker k: the master's side of a distributed run."""

    distributed = True
    window_lead_s = WINDOW_LEAD_S

    def __init__(self, spec: LoadSpec, stop: StopRequest, out: LineWriter) -> None:
        self.spec = spec
        self.stop = stop
        self.out = out
        self.env = Environment(user_classes=self._user_classes(), host=spec.target)
        bind = "*" if spec.master_bind in ("0.0.0.0", "*") else spec.master_bind
        self.port = spec.master_port or _free_port(spec.master_bind)
        try:
            self.runner: MasterRunner = self.env.create_master_runner(bind, self.port)
        except SystemExit:  # Locust exits when the master port is taken
            raise RunFailed(
                f"the master port {spec.master_bind}:{self.port} is busy "
                "(another vbench or Locust master?): pick one with --master-port"
            ) from None
        self.workers: dict[str, _Worker] = {}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.ready_errors: list[str] = []
        self.refused: list[str] = []  # workers of another protocol version
        self.lost = Event()
        self.window_start_perf = 0.0
        self._watcher: gevent.Greenlet | None = None
        self.runner.register_message(HELLO, self._on_hello)
        self.runner.register_message(READY, self._on_ready)
        self.runner.register_message(WARM, self._on_warm)
        self.env.events.worker_report.add_listener(self._on_report)

    @property
    def tallies(self) -> list[ShareTally]:
        return [worker.tally for worker in self.workers.values()]

    def _user_classes(self) -> list[type[User]]:
        """Classes by name only: the master dispatches users, the workers run them."""
        if self.spec.locustfile is not None:
            return load_user_classes(Path(self.spec.locustfile), self.spec.target)
        stub: type[User] = type(PLAYER_CLASS_NAME, (User,), {"abstract": False})
        return [stub]

    # -- messages from workers -------------------------------------------------------------
    def _on_hello(self, environment: Environment, msg: Any, **_: Any) -> None:
        client_id = msg.node_id
        if client_id in self.workers or len(self.workers) >= self.spec.workers:
            if client_id not in self.workers:
                log.warning("an extra worker connected (%s): not used", client_id)
            return
        try:
            hello = unpack(msg.data, Hello)
        except (msgspec.DecodeError, KeyError, TypeError):
            hello = Hello(0, str(client_id))
        if hello.protocol != PROTOCOL:
            self.refused.append(
                f"worker {hello.name} speaks another vbench protocol ({hello.protocol}, the "
                f"master {PROTOCOL}): install the same vbench version on every machine"
            )
            return
        index = len(self.workers)
        process = next((p for p in self.processes if p.pid == hello.pid), None)
        name = f"worker {index} ({hello.name})"
        self.workers[client_id] = _Worker(index, client_id, ShareTally(name), process)
        locustfile = None
        if self.spec.locustfile is not None:
            path = Path(self.spec.locustfile)
            locustfile = LocustfileSource(path.name, path.read_text(encoding="utf-8"))
        setup = Setup(self.spec, index, self.spec.workers, locustfile)
        self.runner.send_message(SETUP, pack(setup), client_id)
        log.info("%s connected", name)

    def _on_ready(self, environment: Environment, msg: Any, **_: Any) -> None:
        worker = self.workers.get(msg.node_id)
        if worker is None:
            return
        ready = unpack(msg.data, WorkerReady)
        if ready.error:
            self.ready_errors.append(f"{worker.tally.name}: {ready.error}")
        worker.ready = True

    def _on_warm(self, environment: Environment, msg: Any, **_: Any) -> None:
        if (worker := self.workers.get(msg.node_id)) is not None:
            worker.warm = True

    def _on_report(self, client_id: str, data: dict[str, Any]) -> None:
        worker = self.workers.get(client_id)
        if worker is None or KEY not in data or worker.tally.lost:
            return
        report = unpack(data, Report)
        for interval in report.intervals:
            worker.tally.add_interval(interval)
        if report.result is not None and worker.tally.result is None:
            worker.tally.result = report.result

    # -- the shares ------------------------------------------------------------------------
    def prepare(self) -> None:
        self._start_local_workers()
        self._wait_for_workers()
        if self.stop.requested:
            return
        users = self.spec.max_in_flight if self.spec.model == "open" else self.spec.users
        users = max(users, self.spec.workers)  # every worker gets at least one user
        self.runner.start(users, spawn_rate=users)
        all_warm = self._wait_until(lambda: all(w.warm for w in self.workers.values()),
                                    WARM_UP_TIMEOUT_S)  # fmt: skip
        if not all_warm and not self.stop.requested:
            log.warning(
                "not every worker warmed up within %.0f s: starting anyway", WARM_UP_TIMEOUT_S
            )

    def users(self) -> int:
        return int(self.runner.user_count)

    def open(self, start_epoch: float, start_perf: float) -> None:
        self.window_start_perf = start_perf
        self._send_all(WINDOW, WindowStart(max(0.0, start_perf - time.perf_counter())))
        self._watcher = gevent.spawn(self._watch_workers)

    def close(self, interrupted: bool) -> None:
        self._send_all(CLOSE, Close(interrupted))

    def give_up(self, tally: ShareTally, why: str) -> None:
        worker = next(w for w in self.workers.values() if w.tally is tally)
        self._lose(worker, why)

    def shutdown(self) -> None:
        if self._watcher is not None:
            self._watcher.kill()
        self.runner.quit()
        self._stop_local_workers()

    # -- workers ---------------------------------------------------------------------------
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

    def _wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            if self.stop.requested or time.monotonic() >= deadline:
                return False
            self._check_local_workers()
            gevent.sleep(POLL_S)
        return True

    def _check_local_workers(self) -> None:
        """Before the window: a local worker that exits, or one of another version, is fatal."""
        if self.refused:
            raise RunFailed(self.refused[0])
        for process in self.processes:
            if process.poll() is not None:
                raise RunFailed(
                    f"local worker pid {process.pid} exited with code "
                    f"{process.returncode} before the load started (see load.log)"
                )

    def _wait_for_workers(self) -> None:
        expected = self.spec.workers
        address = f"{self.spec.master_bind}:{self.port}"
        if not self._wait_until(lambda: len(self.workers) >= expected, self.spec.worker_timeout_s):
            if self.stop.requested:
                return
            hint = (
                f"; start them with `vbench worker --master HOST:{self.port}` where HOST reaches "
                f"this machine (and give --master-bind an address they can reach)"
                if self.spec.expect_workers
                else ""
            )
            raise RunFailed(
                f"only {len(self.workers)} of {expected} workers connected to the master at "
                f"{address} within {self.spec.worker_timeout_s:.0f} s{hint}"
            )
        all_ready = self._wait_until(
            lambda: all(w.ready for w in self.workers.values()), READY_TIMEOUT_S
        )
        if not all_ready and not self.stop.requested:
            raise RunFailed(f"workers not ready within {READY_TIMEOUT_S:.0f} s")
        if self.ready_errors:
            raise RunFailed("; ".join(self.ready_errors))

    def _send_all(self, kind: str, message: Any) -> None:
        data = pack(message)
        for worker in self.workers.values():
            if worker.tally.lost is None:
                self.runner.send_message(kind, data, worker.client_id)

    def _watch_workers(self) -> None:
        while True:
            for worker in self.workers.values():
                if worker.tally.settled:
                    continue
                why = self._why_lost(worker)
                if why is not None:
                    self._lose(worker, why)
            gevent.sleep(POLL_S * 4)

    def _why_lost(self, worker: _Worker) -> str | None:
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

    def _lose(self, worker: _Worker, why: str) -> None:
        t = time.perf_counter() - self.window_start_perf
        message = f"{worker.tally.name} lost {t:.1f} s into the window: {why}"
        worker.tally.lost = message
        log.error("%s", message)
        if self.spec.on_worker_loss == "fail":
            self.out.emit(Error(message=f"{message} (--on-worker-loss fail: stopping the run)"))
            self.lost.set()
        else:
            log.warning(
                "continuing without it (--on-worker-loss continue): its share of the "
                "load is not offered from now on"
            )

    def _stop_local_workers(self) -> None:
        deadline = time.monotonic() + WORKER_EXIT_TIMEOUT_S
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("local worker pid %d did not quit: killed", process.pid)
                process.kill()
                process.wait(2)
