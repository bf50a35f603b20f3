"""Start an engine as a child process, wait for its ready line, and stop it cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from veltrix_bench import lifeline
from veltrix_bench.errors import RunFailed

_READY = re.compile(rb"VELTRIX READY port=(\d+) pid=(\d+)")


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
        """SIGINT (graceful: drain, commit, exit 0), then SIGKILL if it does not go."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def last_log_lines(self, count: int = 10) -> list[str]:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return lines[-count:]


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
    log = log_path.open("ab")
    process = lifeline.popen(
        command,
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # a Ctrl-C at the terminal reaches vbench, which stops us
    )
    assert process.stdout is not None
    found: list[tuple[int, int]] = []
    reader = threading.Thread(target=_copy_stdout, args=(process.stdout, log, found), daemon=True)
    reader.start()
    deadline = time.monotonic() + ready_timeout
    while not found and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    if not found:
        if process.poll() is None:
            process.kill()
        process.wait()
        reader.join(1)
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-5:])
        raise RunFailed(f"engine did not become ready (exit {process.returncode}):\n{tail}")
    port_found, pid = found[0]
    return EngineProcess(process, port_found, pid, host, log_path)


def _copy_stdout(stream: IO[bytes], log: IO[bytes], found: list[tuple[int, int]]) -> None:
    for line in stream:
        log.write(line)
        log.flush()
        match = _READY.search(line)
        if match and not found:
            found.append((int(match.group(1)), int(match.group(2))))
    log.close()
