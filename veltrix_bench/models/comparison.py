"""comparison.json (schema vbench.comparison/1): sides, and each candidate against the first."""

from __future__ import annotations

import msgspec

SCHEMA = "vbench.comparison/1"


class ComparedSide(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    trials: int
    latency_trials: int
    run_dirs: list[str]
    lost_events: int


class MetricRow(msgspec.Struct, frozen=True, kw_only=True):
    """One metric of a candidate against the baseline (see analysis.compare.MetricComparison)."""

    metric: str
    unit: str
    lower_is_better: bool
    baseline: list[float]
    candidate: list[float]
    baseline_median: float | None
    candidate_median: float | None
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    threshold: float
    verdict: str
    paired_rounds: int = 0
    improvement: float | None = None


class CandidateComparison(msgspec.Struct, frozen=True, kw_only=True):
    baseline: str
    candidate: str
    headline: str
    metrics: list[MetricRow]


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    schema: str
    scenario: str
    default_threshold: float
    thresholds: dict[str, float]
    sides: list[ComparedSide]
    comparisons: list[CandidateComparison]
