"""Run `py-spy record` against the engine for the load window; say plainly when it cannot attach."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from veltrix_bench import lifeline
from veltrix_bench.profile.errors import ProfilerUnavailable

RATE_HZ = 100
ATTACH_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 30.0
_SAMPLING = "Sampling process"
_PTRACE_DENIED = re.compile(
    r"permission denied|operation not permitted|os error (?:1|13)\b|ptrace", re.IGNORECASE
)
PTRACE_HELP = (
    "py-spy could not attach to the engine: ptrace is not permitted here ({detail}). "
    "Allow it with `docker run --cap-add SYS_PTRACE` (containers), by running vbench with "
    "sudo (macOS), or with `sysctl kernel.yama.ptrace_scope=0` (Linux)"
)


def find_pyspy() -> str | None:
    """py-spy from PATH, else the one installed beside this interpreter (a venv not activated)."""
    found = shutil.which("py-spy")
    if found:
        return found
    beside = Path(sys.executable).parent / ("py-spy.exe" if os.name == "nt" else "py-spy")
    return str(beside) if beside.exists() else None


class PySpyRecorder:
    """`py-spy record --pid PID --rate 100 --format raw` (blocking mode), stopped with SIGINT.

    Blocking mode pauses the engine for each sample (~4% here); `--nonblocking` would be
    cheaper but distorts the stacks of an I/O-bound server. Idle samples are left out (no
    `--idle`): shares are of the time the engine's threads were busy.
    """

    def __init__(
        self, output: Path, log_path: Path, rate_hz: int = RATE_HZ, native: bool = False
    ) -> None:
        self.output = output
        self.native = native  # also C frames: `--native`
        self.log_path = log_path
        self.rate_hz = rate_hz
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    def start(self, pid: int) -> None:
        """Attach and return once py-spy samples; ProfilerUnavailable if it cannot."""
        executable = find_pyspy()
        if executable is None:
            raise ProfilerUnavailable(
                "py-spy is not installed: `pip install py-spy` (it ships with vbench's "
                "dependencies; is this the right environment?)"
            )
        self.output.unlink(missing_ok=True)
        command = [
            executable, "record", "--pid", str(pid), "--rate", str(self.rate_hz),
            "--format", "raw", "--output", str(self.output), *(["--native"] if self.native else []),
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = lifeline.popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C at the terminal must not stop it early
            )
        deadline = time.monotonic() + ATTACH_TIMEOUT_S
        while time.monotonic() < deadline:
            if _SAMPLING in self._log():
                self.started_at = time.time()
                return
            if self.process.poll() is not None:
                raise ProfilerUnavailable(self._failure_reason(self.process.returncode))
            time.sleep(0.02)
        self._kill()
        raise ProfilerUnavailable(
            f"py-spy did not start sampling within {ATTACH_TIMEOUT_S:.0f} s "
            f"(see {self.log_path.name})"
        )

    def stop(self) -> None:
        """SIGINT: py-spy writes its file and exits (SIGTERM would write nothing)."""
        if self.process is None:
            return
        self.stopped_at = time.time()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._kill()
                raise ProfilerUnavailable(
                    f"py-spy did not stop within {STOP_TIMEOUT_S:.0f} s of SIGINT; no CPU profile"
                ) from None
        if not self.output.exists():
            raise ProfilerUnavailable(
                f"py-spy exited (code {self.process.returncode}) without writing "
                f"{self.output.name}: {self._last_line()}"
            )

    def abandon(self) -> None:
        """Stop without caring for the output (the run is being torn down)."""
        self._kill()

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def _log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _last_line(self) -> str:
        lines = [line.strip() for line in self._log().splitlines() if line.strip()]
        return lines[-1] if lines else "no output"

    def _failure_reason(self, code: int) -> str:
        text = self._log()
        if _PTRACE_DENIED.search(text):
            first = next(
                (line.strip() for line in text.splitlines() if _PTRACE_DENIED.search(line)), ""
            )
            return PTRACE_HELP.format(detail=first[:160])
        return f"py-spy exited (code {code}) before sampling: {self._last_line()[:200]}"
