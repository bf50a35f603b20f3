"""The metrics of a summary that can be compared, gated and checked, and how to read them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from veltrix_bench.models.summary import Summary, Trial


@dataclass(frozen=True)
class Metric:
    name: str
    path: tuple[str, ...]  # where it sits in summary.json
    lower_is_better: bool
    unit: str
    profiled: bool = False  # taken from profiled trials (allocations, CPU), not latency trials
    tail: float = 0.0  # a percentile: the share of requests beyond it

    def value(self, summary: Summary) -> float | None:
        node: Any = summary
        for key in self.path:
            node = node.get(key) if isinstance(node, dict) else getattr(node, key, None)
            if node is None:
                return None
        return float(node) if isinstance(node, int | float) else None


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("p50", ("latency_ms", "p50"), True, "ms"),
        Metric("p90", ("latency_ms", "p90"), True, "ms", tail=0.1),
        Metric("p99", ("latency_ms", "p99"), True, "ms", tail=0.01),
        Metric("p999", ("latency_ms", "p999"), True, "ms", tail=0.001),
        Metric("max_latency", ("latency_ms", "max"), True, "ms"),
        Metric("mean_latency", ("latency_ms", "mean"), True, "ms"),
        Metric("service_p99", ("service_time_ms", "p99"), True, "ms", tail=0.01),
        Metric("throughput", ("requests", "throughput_rps"), False, "req/s"),
        Metric("error_rate", ("requests", "error_rate"), True, ""),
        Metric("rejected", ("requests", "rejected"), True, ""),
        Metric("peak_rss_mb", ("engine", "peak_rss_mb"), True, "MB"),
        Metric("max_queue_depth", ("engine", "max_queue_depth"), True, "events"),
        Metric("allocations", ("memory", "allocations"), True, "", profiled=True),
        Metric("allocations_per_s", ("memory", "allocations_per_s"), True, "/s", profiled=True),
        Metric(
            "allocations_per_event", ("memory", "allocations_per_event"), True, "", profiled=True
        ),
        Metric("handler_share", ("cpu", "handler_share"), True, "", profiled=True),
    )
}
COMPARED = (
    "p50", "p99", "p999", "throughput", "error_rate", "allocations_per_event", "handler_share",
    "peak_rss_mb", "max_queue_depth",
)  # fmt: skip


def trials_for(trials: Sequence[Trial], metric: Metric) -> list[Trial]:
    """The trials a metric is read from: profiled ones for allocations and CPU, else the rest."""
    return [t for t in trials if t.summary.profiled == metric.profiled]


def values(trials: Sequence[Trial], metric: Metric) -> list[float]:
    """The metric from each trial that has it; latency metrics only from unprofiled runs."""
    found = [metric.value(t.summary) for t in trials_for(trials, metric)]
    return [v for v in found if v is not None]


MIN_TAIL_SAMPLES = 10
"""A percentile is judged only when every trial has at least this many requests beyond it:
a 5 s smoke trial of ~1,000 requests has one beyond its p99.9, which is then its maximum.
Measured in an A/A test with paired rounds: such p99.9s were called different in 2 of 10."""


def thin_tail(trials: Sequence[Trial], metric: Metric) -> str | None:
    """Why this percentile cannot be judged from these trials, or None if it can."""
    if not metric.tail:
        return None
    totals = [t.summary.requests.total for t in trials_for(trials, metric)]
    if not totals:
        return None
    beyond = min(totals) * metric.tail
    if beyond >= MIN_TAIL_SAMPLES:
        return None
    return (
        f"{metric.name}: the smallest trial has {beyond:.0f} requests beyond it "
        f"(at least {MIN_TAIL_SAMPLES} needed to judge it)"
    )


def paired_values(
    baseline: Sequence[Trial], candidate: Sequence[Trial], metric: Metric
) -> list[tuple[float, float]] | None:
    """(baseline, candidate) values of the rounds both sides completed; None when the trials
    were not interleaved rounds (finished run directories, say)."""
    sides: list[dict[tuple[tuple[str, ...], int], float | None]] = []
    for trials in (baseline, candidate):
        chosen = trials_for(trials, metric)
        rounds = [t.round for t in chosen]
        if not chosen or any(round_ is None for round_ in rounds):
            return None
        sides.append({t.round: metric.value(t.summary) for t in chosen if t.round is not None})
    base, cand = sides
    return [
        (b, c)
        for round_ in sorted(base.keys() & cand.keys())
        if (b := base[round_]) is not None and (c := cand[round_]) is not None
    ]


def parse_fraction(text: str) -> float:
    """'5%' or '0.05' -> 0.05; ValueError with what is allowed.

    Finite and not negative: a NaN or infinite allowed change makes a check that never
    fails (every comparison with it is false), a negative one calls an improvement worse.
    """
    cleaned = text.strip()
    try:
        fraction = float(cleaned[:-1]) / 100 if cleaned.endswith("%") else float(cleaned)
    except ValueError:
        fraction = math.nan
    if not math.isfinite(fraction) or fraction < 0:
        raise ValueError(f"'{text}' is not a fraction like 5% or 0.05 (finite, at least 0)")
    return fraction


def parse_metric_bounds(items: list[str], option: str) -> dict[str, float]:
    """['p99=10%', ...] -> {'p99': 0.10}; ValueError naming a bad item or unknown metric."""
    bounds = {}
    for item in items:
        name, sep, amount = item.partition("=")
        if not sep:
            raise ValueError(f"{option} '{item}': expected METRIC=AMOUNT, e.g. p99=10%")
        if name.strip() not in METRICS:
            raise ValueError(
                f"{option} '{item}': unknown metric '{name}' (known: {', '.join(METRICS)})"
            )
        bounds[name.strip()] = parse_fraction(amount)
    return bounds
