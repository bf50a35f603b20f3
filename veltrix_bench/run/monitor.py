"""Polls the engine once a second: queue depth and resident memory from /metrics."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

QUEUE_DEPTH = "veltrix_queue_depth"
RSS = "process_resident_memory_bytes"


@dataclass(frozen=True)
class EngineSample:
    at: float  # epoch seconds
    queue_depth: float | None
    rss_mb: float | None


def fetch(url: str, timeout: float = 5.0) -> bytes:
    """The body of a GET; urllib's errors as they are (HTTPError: it answered, but not 200)."""
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return bytes(answer.read())


def read_metrics(base_url: str, timeout: float = 2.0) -> EngineSample:
    text = fetch(f"{base_url}/metrics", timeout).decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name in (QUEUE_DEPTH, RSS) and family.samples:
            values[family.name] = family.samples[0].value
    rss = values.get(RSS)
    return EngineSample(time.time(), values.get(QUEUE_DEPTH), rss / 1e6 if rss else None)


class EngineMonitor:
    """A thread that samples the engine once a second until stopped."""

    def __init__(self, base_url: str, interval: float = 1.0) -> None:
        self.base_url = base_url
        self.interval = interval
        self.samples: list[EngineSample] = []
        self.failures = 0
        self.last_failure = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def latest(self) -> EngineSample | None:
        return self.samples[-1] if self.samples else None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(read_metrics(self.base_url))
            except (OSError, ValueError, LookupError, urllib.error.URLError) as exc:
                # another engine may have no /metrics, or other text at it
                self.failures += 1
                self.last_failure = str(exc) or type(exc).__name__
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(3)

    @property
    def unavailable(self) -> str | None:
        """What the monitor could not see in the whole run, in a sentence; None if it saw all."""
        if not self.samples:
            if not self.failures:
                return None
            return (
                f"queue depth and engine RSS not available: {self.base_url}/metrics could not "
                f"be read ({self.last_failure})"
            )
        missing = [
            name
            for name, values in (
                (f"queue depth ({QUEUE_DEPTH})", [s.queue_depth for s in self.samples]),
                (f"engine RSS ({RSS})", [s.rss_mb for s in self.samples]),
            )
            if all(value is None for value in values)
        ]
        if not missing:
            return None
        return f"{' and '.join(missing)} not available: not in {self.base_url}/metrics"
