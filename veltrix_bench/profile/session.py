"""One run's profilers around the engine: wrap its start, bracket the load window, render after.

    session = ProfileSession(run_dir, {"memory", "cpu"})
    engine = start_engine(..., wrapper=session.engine_wrapper())
    ... read /v1/stats (before) ...
    session.begin_window(engine.pid)      # returns once both profilers are recording
    ... the load; wait until the engine has settled; read /v1/stats (after) ...
    session.end_window()                  # idempotent: also call it in a `finally`
    engine.stop()
    report = session.finish(acked_events)  # .summary_blocks(): memory, cpu, profiles_skipped

A profiler that cannot run here is skipped with a one-line reason; the run goes on.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from veltrix_bench.profile.errors import ProfilerUnavailable
from veltrix_bench.profile.memray_window import START_SIGNAL, STOP_SIGNAL, WindowState
from veltrix_bench.profile.pyspy import RATE_HZ, PySpyRecorder
from veltrix_bench.profile.render import (
    CPU_FOLDED,
    MEMRAY_CAPTURE,
    PYSPY_LOG,
    ProfileRecord,
    ProfileReport,
    render_profiles,
)

PROFILE_KINDS = ("memory", "cpu")
TRACKING_TIMEOUT_S = 15.0
FINALIZE_TIMEOUT_S = 60.0  # finalizing a large capture takes a while


class ProfileSession:
    def __init__(
        self,
        run_dir: Path,
        kinds: Iterable[str],
        handler_regex: str | None = None,
        native: bool = False,
    ) -> None:
        """`kinds`: a subset of ("memory", "cpu"); `--profile all` is both. `native`: py-spy
        also samples C frames (`--native`)."""
        wanted = set(kinds)
        unknown = wanted - set(PROFILE_KINDS)
        if unknown:
            raise ValueError(f"unknown profile kinds: {sorted(unknown)}")
        self.run_dir = run_dir
        self.kinds = tuple(kind for kind in PROFILE_KINDS if kind in wanted)
        self.handler_regex = handler_regex
        self.skipped: dict[str, str] = {}
        self.capture = run_dir / MEMRAY_CAPTURE
        self.pyspy = PySpyRecorder(run_dir / CPU_FOLDED, run_dir / PYSPY_LOG, RATE_HZ, native)
        self._engine_pid: int | None = None
        self._memory_on = False
        self._cpu_on = False

    def active(self, kind: str) -> bool:
        return kind in self.kinds and kind not in self.skipped

    def skip(self, kind: str, reason: str) -> None:
        """Record that `kind` will not be profiled, and why (e.g. `--target`: no engine of ours)."""
        if kind in self.kinds and kind not in self.skipped:
            self.skipped[kind] = reason

    # -- before the engine starts ----------------------------------------------------------
    def engine_wrapper(self, python: str = sys.executable) -> list[str] | None:
        """The `wrapper` for start_engine: the engine under windowed memray tracking, or None.

        `python`: the engine's interpreter, when it is not this one (it must import memray
        and this launcher; the caller checks)."""
        if not self.active("memory"):
            return None
        try:
            import memray  # noqa: F401  (the engine runs on this same interpreter)
        except ImportError as exc:
            self.skip(
                "memory",
                f"memray is not available here ({exc}): it runs on Linux and macOS; "
                "`pip install memray` to profile allocations",
            )
            return None
        self.capture.unlink(missing_ok=True)
        WindowState.path_for(self.capture).unlink(missing_ok=True)
        module = "veltrix_bench.profile.memray_launch"
        return [python, "-m", module, "--output", str(self.capture)]

    # -- around the load -------------------------------------------------------------------
    def begin_window(self, engine_pid: int | None) -> None:
        """Start recording; returns once memray tracks and py-spy samples (or they are skipped)."""
        self._engine_pid = engine_pid
        if engine_pid is None:
            self.skip("memory", "memory profiling needs the embedded engine (not --target)")
            self.skip("cpu", "CPU profiling needs the engine's process (not --target)")
            return
        if self.active("memory"):
            try:
                self._start_tracking(engine_pid)
                self._memory_on = True
            except ProfilerUnavailable as exc:
                self.skip("memory", exc.reason)
        if self.active("cpu"):
            try:
                self.pyspy.start(engine_pid)
                self._cpu_on = True
            except ProfilerUnavailable as exc:
                self.skip("cpu", exc.reason)

    def end_window(self) -> None:
        """Stop recording: py-spy first (so memray finalizing is not sampled), then memray."""
        if self._cpu_on:
            self._cpu_on = False
            try:
                self.pyspy.stop()
            except ProfilerUnavailable as exc:
                self.skip("cpu", exc.reason)
        if self._memory_on:
            self._memory_on = False
            try:
                self._stop_tracking()
            except ProfilerUnavailable as exc:
                self.skip("memory", exc.reason)

    # -- after the engine stopped ----------------------------------------------------------
    def finish(self, acked_events: int | None) -> ProfileReport:
        """Write the session record and the derived files; the summary blocks of the profiles.

        A capture that turns out unreadable becomes a skip reason here, not an error: the
        run's other results still get written. (`vbench profile RUN_DIR` is strict.)
        """
        self.end_window()
        self.pyspy.abandon()
        record = ProfileRecord(
            requested=self.kinds,
            skipped=dict(self.skipped),
            cpu_started_at=self.pyspy.started_at,
            cpu_stopped_at=self.pyspy.stopped_at,
            cpu_rate_hz=self.pyspy.rate_hz,
            handler_regex=self.handler_regex,
        )
        record.write(self.run_dir)
        return render_profiles(self.run_dir, acked_events, self.handler_regex, strict=False)

    # -- memray, in the engine -------------------------------------------------------------
    def _start_tracking(self, pid: int) -> None:
        try:
            os.kill(pid, START_SIGNAL)
        except ProcessLookupError:
            raise ProfilerUnavailable("the engine exited before memray tracking began") from None
        state = self._await_state(lambda s: s.started_at is not None, TRACKING_TIMEOUT_S)
        if state is None or state.started_at is None:
            raise ProfilerUnavailable(
                f"memray tracking did not start within {TRACKING_TIMEOUT_S:.0f} s "
                "(is the engine running under veltrix_bench.profile.memray_launch?)"
            )

    def _stop_tracking(self) -> None:
        assert self._engine_pid is not None
        try:
            os.kill(self._engine_pid, STOP_SIGNAL)
        except ProcessLookupError:
            raise ProfilerUnavailable(
                "the engine exited while memray tracked it: the capture was not finalized"
            ) from None
        state = self._await_state(lambda s: s.stopped_at is not None, FINALIZE_TIMEOUT_S)
        if state is None or state.stopped_at is None:
            raise ProfilerUnavailable(
                f"memray did not finalize {self.capture.name} within {FINALIZE_TIMEOUT_S:.0f} s"
            )

    def _await_state(
        self, done: Callable[[WindowState], bool], timeout: float
    ) -> WindowState | None:
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = WindowState.read(self.capture)
            if state is not None and state.error:
                raise ProfilerUnavailable(state.error)
            if state is not None and done(state):
                return state
            time.sleep(0.01)
        return state
