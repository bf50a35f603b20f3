"""Side-by-side statistics of trials: medians, ratio and its confidence interval, Mann-Whitney U.

A difference is called only when the whole confidence interval of the ratio lies beyond the
noise threshold; otherwise the verdict is "no difference called".

Trials run interleaved (A B, B A ...) are paired by round: the ratio is then the Hodges-Lehmann
estimate over rounds with its exact signed-rank interval (`analysis.paired`). On a shared machine
whole rounds run faster or slower together (measured here: per-trial p99 varied 13% between
rounds while the A/A ratio within a round varied ~4%), and pairing takes that common part out.
Without enough paired rounds the ratio is that of the medians, its interval a bootstrap.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from veltrix_bench.analysis import paired
from veltrix_bench.analysis.metrics import (
    COMPARED,
    METRICS,
    Metric,
    paired_values,
    parse_fraction,
    parse_metric_bounds,
    thin_tail,
    values,
)
from veltrix_bench.models.summary import Trial

CONFIDENCE = paired.CONFIDENCE
DEFAULT_THRESHOLD = 0.05
BOOTSTRAP_RESAMPLES = 4000

BETTER, WORSE, SAME, UNKNOWN = "better", "worse", "no difference called", "insufficient data"

PAIRED = "paired rounds: Hodges-Lehmann, signed-rank interval"
UNPAIRED = "ratio of medians: percentile bootstrap"

__all__ = [
    "COMPARED", "METRICS", "Metric", "MetricComparison", "compare_metric", "parse_fraction",
    "parse_metric_bounds", "values",
]  # fmt: skip


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    unit: str
    lower_is_better: bool
    baseline: list[float]
    candidate: list[float]
    baseline_median: float | None
    candidate_median: float | None
    ratio: float | None  # candidate / baseline
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    threshold: float
    verdict: str
    paired_rounds: int = 0  # > 0: ratio and interval from this many paired rounds
    method: str = UNPAIRED
    confidence: float = CONFIDENCE  # two-sided; each end is a one-sided bound at (1 + it) / 2
    pairs: list[tuple[float, float]] = field(default_factory=list)
    """(baseline, candidate) of each round both sides completed, in round order."""

    @property
    def improvement(self) -> float | None:
        """How many times better the candidate is (>1 better, <1 worse)."""
        if self.ratio is None or self.ratio == 0:
            return None
        return 1 / self.ratio if self.lower_is_better else self.ratio


def _median_ratio(baseline: np.ndarray, candidate: np.ndarray, axis: int = -1) -> np.ndarray:
    base = np.median(baseline, axis=axis)
    cand = np.median(candidate, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(cand / base)


def ratio_interval(
    baseline: list[float], candidate: list[float], seed: int = 0, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of median(candidate)/median(baseline)."""
    if len(baseline) < 2 or len(candidate) < 2:
        return None
    base, cand = np.asarray(baseline, float), np.asarray(candidate, float)
    if np.median(base) == 0:
        return None
    if np.all(base == base[0]) and np.all(cand == cand[0]):
        point = float(cand[0] / base[0])
        return point, point  # no spread to resample: the interval is the point
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few trials: scipy warns about degenerate resamples
        result = stats.bootstrap(
            (base, cand),
            _median_ratio,
            n_resamples=BOOTSTRAP_RESAMPLES,
            confidence_level=confidence,
            method="percentile",
            vectorized=True,
            random_state=np.random.default_rng(seed),
        )
    low, high = result.confidence_interval
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return float(low), float(high)


def compare_metric(
    metric: Metric,
    baseline: list[float],
    candidate: list[float],
    threshold: float,
    pairs: list[tuple[float, float]] | None = None,
    not_judged: str | None = None,
    confidence: float = CONFIDENCE,
) -> MetricComparison:
    """`pairs`: (baseline, candidate) values of the same round, when trials were interleaved;
    from `paired.MIN_ROUNDS` usable rounds on they give the ratio and its interval.
    `not_judged`: why no difference may be called (too few samples, say): the figures are
    still computed and the verdict is 'insufficient data'. `confidence`: of the two-sided
    interval (a gate asks `paired.ONE_SIDED_95`: only its lower end matters)."""
    base_median = float(np.median(baseline)) if baseline else None
    cand_median = float(np.median(candidate)) if candidate else None
    ratio = None
    if base_median not in (None, 0.0) and cand_median is not None:
        ratio = cand_median / base_median
    by_rounds = paired.paired_ratio(pairs, confidence) if pairs else None
    interval: tuple[float, float] | None
    if by_rounds is not None:
        ratio, interval = by_rounds.ratio, (by_rounds.low, by_rounds.high)
    else:
        interval = ratio_interval(baseline, candidate, confidence=confidence)
    p_value = None
    if len(baseline) >= 2 and len(candidate) >= 2 and len(set(baseline) | set(candidate)) > 1:
        p_value = float(stats.mannwhitneyu(baseline, candidate, alternative="two-sided").pvalue)
    verdict = UNKNOWN  # stays so when `not_judged` says why
    if not_judged is None and baseline and candidate and not any(baseline) and not any(candidate):
        verdict = SAME  # zero on both sides (no errors, say): nothing differs
    elif not_judged is None and interval is not None:
        low, high = interval
        if low > 1 + threshold:
            verdict = WORSE if metric.lower_is_better else BETTER
        elif high < 1 - threshold:
            verdict = BETTER if metric.lower_is_better else WORSE
        else:
            verdict = SAME
    return MetricComparison(
        metric=metric.name,
        unit=metric.unit,
        lower_is_better=metric.lower_is_better,
        baseline=list(baseline),
        candidate=list(candidate),
        baseline_median=base_median,
        candidate_median=cand_median,
        ratio=ratio,
        ci_low=interval[0] if interval else None,
        ci_high=interval[1] if interval else None,
        p_value=p_value,
        threshold=threshold,
        verdict=verdict,
        paired_rounds=by_rounds.rounds if by_rounds is not None else 0,
        method=PAIRED if by_rounds is not None else UNPAIRED,
        confidence=confidence,
        pairs=list(pairs or []),
    )


def compare_sides(
    baseline: Sequence[Trial],
    candidate: Sequence[Trial],
    thresholds: dict[str, float] | None = None,
    metrics: tuple[str, ...] = COMPARED,
) -> list[MetricComparison]:
    thresholds = thresholds or {}
    return [
        compare_metric(
            METRICS[name],
            values(baseline, METRICS[name]),
            values(candidate, METRICS[name]),
            thresholds.get(name, DEFAULT_THRESHOLD),
            paired_values(baseline, candidate, METRICS[name]),
            thin_tail([*baseline, *candidate], METRICS[name]),
        )
        for name in metrics
    ]


def _fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "":
        return f"{value:,.4g}"
    return f"{value:,.0f} {unit}"


def headline(
    baseline_name: str, candidate_name: str, row: MetricComparison, trials: tuple[int, int]
) -> str:
    """E.g. 'tuned: p99 48 ms vs 512 ms for default — 10.6x lower (95% CI 9.1-12.4x, 5 trials
    each)'."""
    if row.baseline_median is None or row.candidate_median is None or row.ratio in (None, 0):
        return f"{candidate_name}: {row.metric} could not be compared with {baseline_name}"
    assert row.ratio is not None
    head = (
        f"{candidate_name}: {row.metric} {_fmt(row.candidate_median, row.unit)} vs "
        f"{_fmt(row.baseline_median, row.unit)} for {baseline_name}"
    )
    lower = row.ratio < 1
    factor = 1 / row.ratio if lower else row.ratio
    word = "lower" if lower else "higher"
    each = (
        f"{trials[0]} trials each" if trials[0] == trials[1] else f"{trials[0]}/{trials[1]} trials"
    )
    if row.ci_low is not None and row.ci_high is not None:
        lo, hi = sorted((1 / row.ci_high, 1 / row.ci_low) if lower else (row.ci_low, row.ci_high))
        interval = f"{row.confidence:.0%} CI {lo:.2f}-{hi:.2f}x, {each}"
    else:
        interval = f"no interval, {each}"
    called = "" if row.verdict in (BETTER, WORSE) else f"; {row.verdict}"
    return f"{head} — {factor:.2f}x {word} ({interval}){called}"
