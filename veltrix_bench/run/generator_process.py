"""The load generator as a child process: start it, read its protocol lines, stop it."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from veltrix_bench import lifeline
from veltrix_bench.load.protocol import Line, decode


class GeneratorProcess:
    """`python -m veltrix_bench.load.generator SPEC`; its lines arrive on `lines`.

    stderr and any non-protocol stdout go to the load log. `None` on `lines` means the
    process closed its stdout (it is exiting).
    """

    def __init__(self, spec_path: Path, log_path: Path) -> None:
        self._log = log_path.open("ab")
        self.process = lifeline.popen(
            [sys.executable, "-m", "veltrix_bench.load.generator", str(spec_path)],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # vbench, not the terminal, decides when it stops
        )
        self.lines: queue.Queue[Line | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            text = raw.decode(errors="replace").strip()
            if not text:
                continue
            try:
                self.lines.put(decode(text))
            except ValueError:
                self._log.write(raw)
                self._log.flush()
        self.lines.put(None)

    def alive(self) -> bool:
        return self.process.poll() is None

    def interrupt(self) -> None:
        """Ask it to stop now; it still writes its histograms and final line."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            return self.process.returncode
        finally:
            self._reader.join(2)
            self._log.close()
