"""Two network namespaces joined by a veth pair, a master's host and a worker's, for tests.

Root only. The pair's /30 exists only inside the two namespaces, neither of which has a
default route: whatever runs in one reaches the other end of the pair and nothing else, and
the host's own addresses and routes are never touched. Every pair gets fresh namespace
names, so the leftovers of a crashed run cannot break a later one; the interfaces are made
inside the namespaces and never exist on the host, so their fixed names cannot clash either.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

SUBNET = "10.213.37.0/30"
"""A private /30 that lives only inside the two namespaces (the host never sees it)."""
MASTER_ADDRESS = "10.213.37.1"
WORKER_ADDRESS = "10.213.37.2"
PREFIX_LENGTH = 30
STOP_GRACE_S = 5.0


class NamespaceError(Exception):
    """`ip` refused to build the namespaces; the message is its own."""


def unavailable() -> str | None:
    """Why network namespaces cannot be made here (None: they can, as far as we can tell)."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces (run as root, as .ci/run does)"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed (apt-get install iproute2)"
    return None


def ip(*argv: str) -> str:
    """Run `ip ARGV...`; its stdout, or NamespaceError with its stderr."""
    done = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise NamespaceError(f"ip {' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class Host:
    """One namespace standing for one machine, with its address on the pair."""

    namespace: str
    address: str
    interface: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside this namespace (`ip netns exec` execs it: same pid)."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def pids(self) -> list[int]:
        """Every process whose network namespace this is."""
        try:
            return [int(pid) for pid in ip("netns", "pids", self.namespace).split()]
        except NamespaceError:
            return []

    def listening(self, port: int) -> bool:
        """True once something in this namespace listens on TCP `port`."""
        found = subprocess.run(
            self.command(["ss", "-H", "-l", "-t", "-n", f"sport = :{port}"]),
            capture_output=True,
            text=True,
            timeout=30,
        )
        return bool(found.stdout.strip())


class HostPair:
    """A master host and a worker host on one veth pair; `close()` leaves nothing behind."""

    def __init__(self, tag: str) -> None:
        self.master = Host(f"vbench-test-{tag}-master", MASTER_ADDRESS, "vb-master")
        self.worker = Host(f"vbench-test-{tag}-worker", WORKER_ADDRESS, "vb-worker")
        self.processes: list[subprocess.Popen[Any]] = []
        self._made: list[Host] = []

    def create(self) -> None:
        for host in (self.master, self.worker):
            ip("netns", "add", host.namespace)
            self._made.append(host)
        master, worker = self.master, self.worker
        ip("-n", master.namespace, "link", "add", master.interface, "type", "veth",
           "peer", "name", worker.interface, "netns", worker.namespace)  # fmt: skip
        for host in (master, worker):
            ip("-n", host.namespace, "addr", "add", f"{host.address}/{PREFIX_LENGTH}",
               "dev", host.interface)  # fmt: skip
            ip("-n", host.namespace, "link", "set", "lo", "up")
            ip("-n", host.namespace, "link", "set", host.interface, "up")
            # where `ip netns exec` cannot work (no right to mount /sys): a reason to skip
            ip("netns", "exec", host.namespace, "true")
            routes = ip("-n", host.namespace, "route", "show").splitlines()
            assert all(route.startswith(f"{SUBNET} ") for route in routes), routes

    def start(self, host: Host, argv: Sequence[str], **popen: Any) -> subprocess.Popen[Any]:
        """Start `argv` in `host`'s namespace, in its own session (its group is killable)."""
        process = subprocess.Popen(
            host.command(argv), stdin=subprocess.DEVNULL, start_new_session=True, **popen
        )
        self.processes.append(process)
        return process

    def adopt(self, process: subprocess.Popen[Any]) -> None:
        """A process started elsewhere in one of the namespaces: reaped by close() too."""
        self.processes.append(process)

    def close(self) -> None:
        """Stop every process in both namespaces, then delete them (safe to call twice)."""
        try:
            for process in self.processes:
                if process.poll() is None:
                    _signal_group(process.pid, signal.SIGTERM)
            _wait_until(lambda: all(p.poll() is not None for p in self.processes), STOP_GRACE_S)
            # whatever is left in the namespaces was started by this test (the names are ours)
            for host in self._made:
                for pid in host.pids():
                    _signal(pid, signal.SIGKILL)
            for process in self.processes:
                if process.poll() is None:
                    _signal_group(process.pid, signal.SIGKILL)
            _wait_until(lambda: all(p.poll() is not None for p in self.processes), STOP_GRACE_S)
            _wait_until(lambda: not any(host.pids() for host in self._made), STOP_GRACE_S)
        finally:
            while self._made:
                host = self._made.pop()
                ip("netns", "delete", host.namespace)  # its end of the veth pair goes with it


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _wait_until(done: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
