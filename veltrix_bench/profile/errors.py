"""How profiling goes wrong: a profiler that cannot run here, a capture that cannot be read."""

from __future__ import annotations

from veltrix_bench.errors import RunFailed


class ProfilerUnavailable(Exception):
    """A profiler cannot run on this machine; `reason` is one line saying what to do about it.

    Not an error of the run: the run goes on without that profile and records the reason.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CaptureError(RunFailed):
    """A capture file that is missing, truncated or unreadable (exit 3)."""
