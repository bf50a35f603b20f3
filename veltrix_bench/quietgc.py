"""Keep Python's cyclic garbage collector from pausing a busy process: the generator's
simulated users, or the engine's event loop.

Measured here:
- Generator, 4,000 users with ~3,000 requests in flight: automatic full (gen2) collections
  took 150-280 ms every 2-3 s and gen1 ones 10-35 ms several times a second, each one a
  pause of the whole generator that lands in every in-flight latency.
- Engine (tuned, 4,000 events/s, benchmarks/gc_pauses.py): 10 gen2 collections of up to
  0.4-0.6 s in 10 s, ~4.8 s of collection in all; the event loop fell behind for good
  (engine CPU 104%, 429s, p99 6-11 s). Quiet: 88-132 ms of collection, p99 37-577 ms.

Almost everything in these heaps is either long-lived (users, sessions, the world, the game
state) or freed by reference counting when its request ends; cyclic garbage is rare. So:
freeze what exists, let only young collections run (gen0 on its threshold, and, where asked,
gen0+gen1 once per check), and collect fully on a slow cadence where asked (objects that
survive the checked collections, requests in flight at that instant, reach the oldest
generation: the cyclic garbage among them is freed only by a full collection, which walks
only what was made since the freeze) and whenever the process has grown by a lot (a safety
valve, logged).
"""

from __future__ import annotations

import gc
import logging
import resource
import time

log = logging.getLogger("vbench.gc")

GEN0_THRESHOLD = 700
NEVER = 1_000_000_000
GROWTH_BEFORE_FULL_COLLECTION_MB = 256.0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


class QuietCollector:
    """Use as: quiet() once the long-lived state is built, then check() every second."""

    def __init__(
        self,
        gen0_threshold: int = GEN0_THRESHOLD,
        *,
        young_on_check: bool = False,
        growth_mb: float = GROWTH_BEFORE_FULL_COLLECTION_MB,
        full_every_s: float = 0.0,
    ) -> None:
        self._gen0_threshold = gen0_threshold
        self._young_on_check = young_on_check
        self._growth_mb = growth_mb
        self._full_every_s = full_every_s
        self._baseline_mb = 0.0
        self._last_full = time.monotonic()
        self.full_collections = 0

    def quiet(self) -> None:
        gc.collect()
        gc.freeze()
        gc.set_threshold(self._gen0_threshold, NEVER, NEVER)
        self._baseline_mb = _peak_rss_mb()

    def check(self) -> None:
        """Collect the young generations if asked; fully (one pause, logged) every
        `full_every_s`, or if the peak RSS grew past the safety margin."""
        if self._young_on_check:
            gc.collect(1)
        grown = _peak_rss_mb() - self._baseline_mb
        if grown >= self._growth_mb:
            self._collect_fully(logging.WARNING, f"process grew by {grown:.0f} MB")
        elif self._full_every_s and time.monotonic() - self._last_full >= self._full_every_s:
            # Cyclic garbage that was alive at a young collection reaches the oldest
            # generation, which nothing else collects: at 2,000 events/s the engine's RSS grew
            # ~1.2 MB/min that way (benchmarks/idempotency_memory.py).
            self._collect_fully(logging.INFO, f"every {self._full_every_s:g} s")

    def _collect_fully(self, level: int, why: str) -> None:
        started = time.perf_counter()
        freed = gc.collect()
        took_ms = (time.perf_counter() - started) * 1000
        self.full_collections += 1
        self._last_full = time.monotonic()
        self._baseline_mb = _peak_rss_mb()
        log.log(
            level, "%s: full garbage collection freed %d objects in %.1f ms", why, freed, took_ms
        )

    @staticmethod
    def peak_rss_mb() -> float:
        return round(_peak_rss_mb(), 1)
