"""The engine's Prometheus metrics, on a registry of its own."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import generate_latest

from veltrix_bench.engine.events import EVENT_TYPES

disable_created_metrics()  # the *_created series only add noise to every scrape

_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class EngineMetrics:
    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, cpu seconds
        depth = Gauge(
            "veltrix_queue_depth", "Events waiting for the consumer", registry=self.registry
        )
        depth.set_function(queue_depth)
        processed = Counter(
            "veltrix_events_processed",
            "Events applied and committed, by type and status",
            ["type", "status"],
            registry=self.registry,
        )
        rejected = Counter(
            "veltrix_events_rejected",
            "Events refused before processing, by type and cause",
            ["type", "cause"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "veltrix_batch_size",
            "Events per processed batch",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "veltrix_request_latency_seconds",
            "Server-side time to answer POST /v1/events",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.bad_requests = Counter(
            "veltrix_bad_requests",
            "Requests answered 400 or 413",
            ["code"],
            registry=self.registry,
        )
        # Children bound once: the hot path only increments.
        self._processed = {
            (kind, status): processed.labels(kind, status)
            for kind in EVENT_TYPES
            for status in ("applied", "won", "already_claimed", "rejected")
        }
        self._queue_full = {kind: rejected.labels(kind, "queue_full") for kind in EVENT_TYPES}
        self._shutting_down = {kind: rejected.labels(kind, "shutting_down") for kind in EVENT_TYPES}

    def count_processed(self, kind: str, status: str) -> None:
        self._processed[(kind, status)].inc()

    def count_queue_full(self, kind: str) -> None:
        self._queue_full[kind].inc()

    def count_shutting_down(self, kind: str) -> None:
        self._shutting_down[kind].inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
