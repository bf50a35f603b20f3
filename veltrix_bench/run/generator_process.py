"""The load generator as a child process: start it, give it its spec, read its lines, stop it."""

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
    """`python -m veltrix_bench.load.generator -`; its lines arrive on `lines`.

    It starts before its spec can be written (the spec names the engine's URL), so that it
    imports gevent and Locust while the engine starts: ~1-1.7 s of every trial. `load` then
    hands it the spec's path on stdin, and it runs. stderr and any non-protocol stdout go to
    the load log. `None` on `lines` means the process closed its stdout (it is exiting).
    """

    def __init__(self, log_path: Path, spec_path: Path | None = None) -> None:
        self._log = log_path.open("ab")
        self.process = lifeline.popen(
            [sys.executable, "-m", "veltrix_bench.load.generator", "-"],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.PIPE,
            start_new_session=True,  # vbench, not the terminal, decides when it stops
        )
        self.loaded = False
        self.lines: queue.Queue[Line | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if spec_path is not None:
            self.load(spec_path)

    def load(self, spec_path: Path) -> None:
        """Run the load of this spec (once)."""
        self._end_stdin(f"{spec_path}\n".encode())
        self.loaded = True

    def _end_stdin(self, text: bytes = b"") -> None:
        stdin = self.process.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write(text)
            stdin.close()
        except OSError:  # it exited already (BrokenPipeError): its log says why
            pass

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
        """Ask it to stop now; it still writes its histograms and final line. One that has no
        spec yet gets none: it exits without a load."""
        if not self.loaded:
            self._end_stdin()
        elif self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            return self.process.returncode
        finally:
            self._end_stdin()
            self._reader.join(2)
            self._log.close()
