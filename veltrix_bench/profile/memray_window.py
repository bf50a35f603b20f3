"""Run a Python module with memray tracking only between two signals: the load window, exactly.

    python -m veltrix_bench.profile.memray_window --output memray.bin -m veltrix_bench.engine ...

SIGUSR1 starts a `memray.Tracker` (Python allocators traced) inside the process, SIGUSR2
stops it, which finalizes the capture. Every allocation between the two is in the capture,
none from start-up or shutdown. A state file beside the capture records when tracking
started and stopped (epoch seconds, as taken in the process), the capture's size once
finalized, or why tracking failed; the controlling side waits on it to know tracking is on.

This wrapper stands in for `memray run`, which cannot be switched on and off. The module it
runs needs no change: it is started exactly as `python -m MODULE ARGS` would start it.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

START_SIGNAL = signal.SIGUSR1
STOP_SIGNAL = signal.SIGUSR2


@dataclass(frozen=True)
class WindowState:
    """What the tracked process says about its capture (the `*.window.json` beside it)."""

    capture: str
    pid: int
    started_at: float | None = None
    stopped_at: float | None = None
    stopped_by: str | None = None  # "signal" (the window's end) or "exit" (never stopped)
    capture_bytes: int | None = None  # size once finalized: a later mismatch means damage
    error: str | None = None

    @staticmethod
    def path_for(capture: Path) -> Path:
        return capture.with_name(capture.name + ".window.json")

    @classmethod
    def read(cls, capture: Path) -> WindowState | None:
        try:
            raw = json.loads(cls.path_for(capture).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(raw, dict):
            return None
        known = {key: raw[key] for key in cls.__dataclass_fields__ if key in raw}
        try:
            return cls(**known)
        except TypeError:
            return None

    def write(self, capture: Path) -> None:
        target = self.path_for(capture)
        partial = target.with_name(target.name + ".partial")
        partial.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(partial, target)  # readers never see half a file


class _WindowTracker:
    def __init__(self, capture: Path) -> None:
        self.capture = capture
        self.state = WindowState(capture=capture.name, pid=os.getpid())
        self.tracker: Any = None

    def install(self) -> None:
        signal.signal(START_SIGNAL, self._on_start)
        signal.signal(STOP_SIGNAL, self._on_stop)
        self.state.write(self.capture)

    def _on_start(self, signum: int, frame: FrameType | None) -> None:
        if self.tracker is not None or self.state.started_at is not None:
            return  # one window per process
        try:
            import memray

            self.capture.unlink(missing_ok=True)
            tracker = memray.Tracker(self.capture, trace_python_allocators=True)
            tracker.__enter__()
        except Exception as exc:  # tracking is optional: the process goes on serving
            self._update(error=f"memray could not start tracking: {exc}")
            return
        self.tracker = tracker
        self._update(started_at=time.time())

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop("signal")

    def stop(self, how: str) -> None:
        if self.tracker is None:
            return
        stopped_at = time.time()
        tracker, self.tracker = self.tracker, None
        try:
            tracker.__exit__(None, None, None)
        except Exception as exc:
            self._update(error=f"memray could not finalize the capture: {exc}")
            return
        self._update(
            stopped_at=stopped_at, stopped_by=how, capture_bytes=self.capture.stat().st_size
        )

    def _update(self, **changes: Any) -> None:
        self.state = WindowState(**{**asdict(self.state), **changes})
        self.state.write(self.capture)


def main(argv: list[str]) -> int:
    usage = "usage: python -m veltrix_bench.profile.memray_window --output FILE -m MODULE [ARGS]"
    if len(argv) < 4 or argv[0] != "--output" or argv[2] != "-m":
        print(usage, file=sys.stderr)
        return 2
    capture, module, module_args = Path(argv[1]).resolve(), argv[3], argv[4:]
    window = _WindowTracker(capture)
    window.install()
    sys.argv = [module, *module_args]
    sys.path[0] = os.getcwd()  # as `python -m` does
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        window.stop("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
