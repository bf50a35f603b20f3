"""The engine's CPU time and acknowledged events at the load window's open and close.

Read when the generator's Ready line arrives (the window opens) and when its Final line does
(after the drain: the answers to the window's requests are in, and so is the work they cost).
CPU time is the engine process's own (user + system, psutil); the acknowledged events come
from its /v1/stats. A target without a known pid, or without the engine's stats, leaves
those readings None: never a guess.
"""

from __future__ import annotations

import json
import urllib.error

import psutil

from veltrix_bench.models.engine_stats import counters
from veltrix_bench.models.run_record import EngineWindow
from veltrix_bench.run.monitor import fetch

STATS_TIMEOUT_S = 2.0


class EngineWindowProbe:
    """`at_open()` when the window opens, `at_close()` when the generator's result arrives."""

    def __init__(self, base_url: str, pid: int | None) -> None:
        self.base_url = base_url
        self._process = _process(pid)
        self._open: tuple[float | None, int | None] | None = None
        self._close: tuple[float | None, int | None] | None = None

    def at_open(self) -> None:
        self._open = self._read()

    def at_close(self) -> None:
        if self._open is not None and self._close is None:
            self._close = self._read()

    def reading(self) -> EngineWindow | None:
        """Both readings, or None when the window never opened or never closed."""
        if self._open is None or self._close is None:
            return None
        (cpu_open, acked_open), (cpu_close, acked_close) = self._open, self._close
        return EngineWindow(
            cpu_s_open=cpu_open, cpu_s_close=cpu_close, acked_open=acked_open,
            acked_close=acked_close,
        )  # fmt: skip

    def _read(self) -> tuple[float | None, int | None]:
        return self._cpu_s(), self._acked()

    def _cpu_s(self) -> float | None:
        if self._process is None:
            return None
        try:
            times = self._process.cpu_times()
        except psutil.Error:  # it exited: the run reports that on its own
            return None
        return times.user + times.system

    def _acked(self) -> int | None:
        try:
            answer = json.loads(fetch(f"{self.base_url}/v1/stats", STATS_TIMEOUT_S))
        except (OSError, ValueError, urllib.error.URLError):
            return None
        found = counters(answer if isinstance(answer, dict) else None)
        return sum(found.acknowledged.values()) if found is not None else None


def _process(pid: int | None) -> psutil.Process | None:
    if pid is None:
        return None
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None
