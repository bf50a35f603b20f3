"""Summaries for tests: a complete vbench.summary/1 holding only the figures a test names.

Everything a test does not name is absent (None, zero or empty), as in a run that measured
nothing else; the dict a test gives is merged in, section by section.
"""

from __future__ import annotations

from typing import Any

import msgspec

from veltrix_bench.models.summary import Summary, Trial

_NOTHING_MEASURED: dict[str, Any] = {
    "schema": "vbench.summary/1",
    "run_id": "r1",
    "started_at": "2026-01-01T00:00:00Z",
    "status": "complete",
    "scenario": "smoke",
    "config": "default",
    "target": None,
    "load": {"model": "open", "target_rate": 100.0, "stages": None, "users": 10, "duration_s": 1.0},
    "requests": {
        "total": 0, "ok": 0, "errors": 0, "rejected": 0, "error_rate": 0.0, "throughput_rps": 0.0,
    },
    "latency_ms": {},
    "service_time_ms": {},
    "generator": {},
    "engine": {
        "max_queue_depth": None, "peak_rss_mb": None, "events_acked": None,
        "events_persisted": None,
    },
}  # fmt: skip


def summary_of(figures: dict[str, Any]) -> Summary:
    """A Summary with `figures` (summary.json's own keys and nesting) over nothing measured."""
    document = {key: dict(value) if isinstance(value, dict) else value
                for key, value in _NOTHING_MEASURED.items()}  # fmt: skip
    for key, value in figures.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return msgspec.convert(document, Summary)


def trial_of(figures: dict[str, Any], round_: tuple[tuple[str, ...], int] | None = None) -> Trial:
    return Trial(summary_of(figures), round_)
