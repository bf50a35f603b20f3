"""The engine's Prometheus metrics, on a registry of its own.

The hot path only adds to plain ints and lists here; prometheus_client turns them into the
exposition format when /metrics is scraped (a custom collector). Its own Counter and
Histogram classes take a lock and allocate a float on every update, which showed up in the
engine's per-event allocation count.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from veltrix_bench.engine.events import EVENT_TYPES

LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
STATUSES = ("applied", "won", "already_claimed", "rejected")
REJECTION_CAUSES = ("queue_full", "shutting_down", "commit_failed", "engine_failed")
BAD_REQUEST_CODES = ("400", "408", "413", "415")


class Buckets:
    """A histogram updated with one bisect and two additions."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        cumulative, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            cumulative.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return HistogramMetricFamily(name, documentation, buckets=cumulative, sum_value=self.sum)


class EngineMetrics(Collector):
    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.queue_depth = queue_depth
        self.processed = {(kind, status): 0 for kind in EVENT_TYPES for status in STATUSES}
        self.rejected = {(kind, cause): 0 for kind in EVENT_TYPES for cause in REJECTION_CAUSES}
        self.bad_requests = dict.fromkeys(BAD_REQUEST_CODES, 0)
        self.batch_size = Buckets(BATCH_BUCKETS)
        self.request_latency = Buckets(LATENCY_BUCKETS)
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, cpu seconds
        self.registry.register(self)

    def count_processed(self, kind: str, status: str) -> None:
        self.processed[(kind, status)] += 1

    def count_rejected(self, kind: str, cause: str) -> None:
        self.rejected[(kind, cause)] += 1

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("veltrix_queue_depth", "Events waiting for the consumer")
        depth.add_metric([], self.queue_depth())
        yield depth
        processed = CounterMetricFamily(
            "veltrix_events_processed",
            "Events applied and committed, by type and status",
            labels=["type", "status"],
        )
        for (kind, status), count in self.processed.items():
            processed.add_metric([kind, status], count)
        yield processed
        rejected = CounterMetricFamily(
            "veltrix_events_rejected",
            "Events not applied, by type and cause",
            labels=["type", "cause"],
        )
        for (kind, cause), count in self.rejected.items():
            rejected.add_metric([kind, cause], count)
        yield rejected
        bad = CounterMetricFamily(
            "veltrix_bad_requests", "Requests refused as sent (4xx but 429)", labels=["code"]
        )
        for code, count in self.bad_requests.items():
            bad.add_metric([code], count)
        yield bad
        yield self.batch_size.family("veltrix_batch_size", "Events per processed batch")
        yield self.request_latency.family(
            "veltrix_request_latency_seconds", "Server-side time to answer POST /v1/events"
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
