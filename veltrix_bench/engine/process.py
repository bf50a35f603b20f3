"""Start an engine as a child process, wait for its ready line, and stop it cleanly.

Any program that speaks the engine contract can be started here: it prints one line
`VELTRIX READY port=<port> pid=<pid>` on stdout once it accepts connections, and stops on
SIGTERM. Everything it prints, stdout and stderr, is kept in its log.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from veltrix_bench import lifeline
from veltrix_bench.errors import RunFailed

_READY = re.compile(rb"VELTRIX READY port=(\d+) pid=(\d+)")
READY_LINE = "VELTRIX READY port=<port> pid=<pid>"
STOP_SIGNAL = signal.SIGTERM
LAST_LINES = 8  # of the log, shown when an engine does not start or dies


class EngineDidNotStart(RunFailed):
    """The engine exited, or said nothing, before its ready line (exit 3, its last lines)."""


@dataclass
class EngineProcess:
    process: subprocess.Popen[bytes]
    port: int
    pid: int  # the engine's own pid (differs from process.pid under a wrapper like memray)
    host: str
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (graceful: drain, commit, exit 0), then SIGKILL if it does not go.

        Both go to the engine's whole process group (its own session), so an engine that a
        script started as its child stops too."""
        if self.process.poll() is None:
            _signal_group(self.process, STOP_SIGNAL)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait(5)
        return self.process.returncode

    def last_log_lines(self, count: int = LAST_LINES) -> list[str]:
        return _last_lines(self.log_path, count)

    def not_python(self) -> str | None:
        """Why py-spy cannot sample this engine (it reads CPython's own structures), or None."""
        try:
            engine = psutil.Process(self.pid)
            program = engine.exe() or engine.name()
            maps = [m.path for m in engine.memory_maps()] if sys.platform == "linux" else []
        except psutil.Error as exc:
            return f"the engine's process {self.pid} cannot be inspected: {exc}"
        if re.match(r"python", Path(program).name) or any("libpython" in m for m in maps):
            return None
        return f"the engine (pid {self.pid}, {program}) is not a Python process"


def start_engine(
    config_file: Path,
    db_path: Path,
    log_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    wrapper: list[str] | None = None,
    ready_timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> EngineProcess:
    """Launch `python -m veltrix_bench.engine` (optionally under `wrapper`, e.g. memray)."""
    command = [
        *(wrapper or [sys.executable]),
        "-m", "veltrix_bench.engine",
        "--config", str(config_file), "--host", host, "--port", str(port), "--db", str(db_path),
    ]  # fmt: skip
    return start_command(command, log_path, host=host, ready_timeout=ready_timeout, env=env)


def start_command(
    command: Sequence[str],
    log_path: Path,
    *,
    host: str = "127.0.0.1",
    ready_timeout: float = 30.0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> EngineProcess:
    """Start `command` (no shell) and return once it printed its ready line.

    EngineDidNotStart, with the log's last lines, when it exits first or stays silent past
    `ready_timeout` (it is killed then). A program that cannot be executed says so the same way.
    """
    log = log_path.open("ab")
    try:
        process = lifeline.popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,  # a Ctrl-C at the terminal reaches vbench, which stops us
        )
    except OSError as exc:
        log.close()
        raise EngineDidNotStart(f"engine command {command[0]!r} cannot be started: {exc}") from None
    assert process.stdout is not None
    found: list[tuple[int, int]] = []
    reader = threading.Thread(target=_copy_stdout, args=(process.stdout, log, found), daemon=True)
    reader.start()
    deadline = time.monotonic() + ready_timeout
    while not found and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    if not found:
        silent = process.poll() is None
        if silent:
            _signal_group(process, signal.SIGKILL)
        process.wait()
        reader.join(1)
        why = (
            f"printed no `{READY_LINE}` within {ready_timeout:g} s (killed)"
            if silent
            else f"exited with code {process.returncode} before it was ready"
        )
        tail = "\n".join(_last_lines(log_path, LAST_LINES)) or "(it printed nothing)"
        raise EngineDidNotStart(f"the engine {why}; its last lines:\n{tail}")
    port_found, pid = found[0]
    return EngineProcess(process, port_found, pid, host, log_path)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on at this moment (the engine binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """`signum` to the command and whatever it started in its session (a script's children)."""
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        process.send_signal(signum)


def _last_lines(path: Path, count: int) -> list[str]:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return lines[-count:]


def _copy_stdout(stream: IO[bytes], log: IO[bytes], found: list[tuple[int, int]]) -> None:
    for line in stream:
        log.write(line)
        log.flush()
        match = _READY.search(line)
        if match and not found:
            found.append((int(match.group(1)), int(match.group(2))))
    log.close()
