"""Keep Python's cyclic garbage collector from stalling every simulated user mid-window.

Measured here with 4,000 users and ~3,000 requests in flight: automatic full (gen2)
collections took 150-280 ms every 2-3 s and gen1 ones 10-35 ms several times a second,
each one a pause of the whole generator that lands in every in-flight latency. Almost
everything in the heap is either long-lived (users, sessions) or freed by reference
counting when its request ends; cyclic garbage is rare (tens of objects per second).
So during the window: freeze what exists, let only the cheap gen0 collections run, and
collect fully only if the process has grown by a lot (a safety valve). The process
exits right after the window, so nothing needs restoring.
"""

from __future__ import annotations

import gc
import logging
import resource
import time

log = logging.getLogger("vbench.load")

GEN0_THRESHOLD = 700
NEVER = 1_000_000_000
GROWTH_BEFORE_FULL_COLLECTION_MB = 256.0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


class QuietCollector:
    """Use as: quiet() when the window opens, then check() every second."""

    def __init__(self) -> None:
        self._baseline_mb = 0.0
        self.full_collections = 0

    def quiet(self) -> None:
        gc.collect()
        gc.freeze()
        gc.set_threshold(GEN0_THRESHOLD, NEVER, NEVER)
        self._baseline_mb = _peak_rss_mb()

    def check(self) -> None:
        """Collect fully (one pause, logged) if the peak RSS grew past the safety margin."""
        grown = _peak_rss_mb() - self._baseline_mb
        if grown < GROWTH_BEFORE_FULL_COLLECTION_MB:
            return
        started = time.perf_counter()
        freed = gc.collect()
        self.full_collections += 1
        self._baseline_mb = _peak_rss_mb()
        log.warning(
            "generator grew by %.0f MB: full garbage collection freed %d objects in %.0f ms",
            grown,
            freed,
            (time.perf_counter() - started) * 1000,
        )

    @staticmethod
    def peak_rss_mb() -> float:
        return round(_peak_rss_mb(), 1)
