"""memray tracking switched on and off by two signals inside the tracked process: the load window.

SIGUSR1 starts a `memray.Tracker` (Python allocators traced) inside the process, SIGUSR2
stops it, which finalizes the capture. Every allocation between the two is in the capture,
none from start-up or shutdown. A state file beside the capture records when tracking
started and stopped (epoch seconds, as taken in the process), the capture's size once
finalized, or why tracking failed; the controlling side waits on it to know tracking is on.

`memray_launch.py` installs this in a process before running its module; it stands in for
`memray run`, which cannot be switched on and off.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
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


class WindowTracker:
    """Starts and stops the tracker on a thread of its own, on request of the signal handlers.

    Not in the handlers themselves: memray hides, on the thread that starts tracking, the
    frames that were on its stack at that moment (for `memray run`, its own runner). Started
    from a handler deep in the event loop, that would cut the outer frames off every later
    stack of the engine's main thread. On this thread it only hides this thread's frames, and
    this thread's own few allocations are left out of the counts (memray records it as the
    capture's main thread).
    """

    def __init__(self, capture: Path) -> None:
        self.capture = capture
        self.state = WindowState(capture=capture.name, pid=os.getpid())
        self.requests: queue.SimpleQueue[str] = queue.SimpleQueue()  # safe from a handler
        self.tracker: Any = None
        self.thread = threading.Thread(target=self._serve, name="vbench-memray-window", daemon=True)

    def install(self) -> None:
        signal.signal(START_SIGNAL, lambda signum, frame: self.requests.put("start"))
        signal.signal(STOP_SIGNAL, lambda signum, frame: self.requests.put("stop"))
        self.state.write(self.capture)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            request = self.requests.get()
            if request == "start":
                self._start()
            elif request == "stop":
                self._stop("signal")
            else:
                return

    def _start(self) -> None:
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
        started_at = time.time()
        self.tracker = tracker
        # memray learns a thread's name when it is assigned; name the threads that started
        # before tracking again so that the capture knows them (the SQLite writer thread, where
        # storage.writer = "thread", and the checkpointer).
        for thread in threading.enumerate():
            thread.name = thread.name
        self._update(started_at=started_at)

    def _stop(self, how: str) -> None:
        if self.tracker is None:
            return
        stopped_at = time.time()
        tracker, self.tracker = self.tracker, None
        try:
            tracker.__exit__(None, None, None)
        except Exception as exc:
            self._update(error=f"memray could not finalize the capture: {exc}")
            return
        size = self.capture.stat().st_size
        self._update(stopped_at=stopped_at, stopped_by=how, capture_bytes=size)

    def close(self) -> None:
        """At process exit: finalize a capture still open (its window then includes shutdown)."""
        self.requests.put("quit")
        self.thread.join(10)
        self._stop("exit")

    def _update(self, **changes: Any) -> None:
        self.state = WindowState(**{**asdict(self.state), **changes})
        self.state.write(self.capture)
