"""A metric's ratio between two configs from paired rounds: Hodges-Lehmann, signed-rank interval."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95

ONE_SIDED_95 = 0.90
"""The confidence to ask for when only one end matters: a gate asks whether the candidate is slower
by more than its bound, and the lower end of the two-sided 90% interval is a one-sided 95% bound.
It spends the 5% error where it matters (a ratio right at the bound), where the lower end of a 95%
interval spends 2.5% and loses power: simulated, a 1.10x p99 caught at a 5% bound in ~74% of gates
against ~61% (benchmarks/gate_power_sim.py, model 'sampling', 12 rounds of 1,000/s for 3 s)."""

MIN_ROUNDS = 6
"""The fewest paired rounds with a 95% signed-rank interval: with 5 the smallest two-sided p-value
of the exact test is 2/2^5 = 0.0625, so no ratio can be excluded and the interval is unbounded."""


ROUNDS_ONE_ODD_CANNOT_END = {CONFIDENCE: 12, ONE_SIDED_95: 10}
"""An odd round (a trial that hit a long stall) makes one Walsh average with every round, all at
one end. The 95% interval leaves out 13 Walsh averages at each end of 12 rounds' 78 (10 of 11
rounds' 66), the 90% one 10 of 10 rounds' 55 (8 of 9 rounds' 45): from that many rounds on, the
odd round cannot be an end of the interval, however far out it lies."""


@dataclass(frozen=True)
class PairedRatio:
    """candidate / baseline: the point and its interval, from `rounds` paired rounds."""

    ratio: float
    low: float
    high: float
    rounds: int
    confidence: float  # two-sided; the ends are one-sided bounds at (1 + confidence) / 2


def too_few_rounds(pairs: Sequence[tuple[float, float]]) -> str | None:
    """Why these rounds cannot give an interval, or None if they can."""
    usable = len(_log_ratios(pairs))
    if usable >= MIN_ROUNDS:
        return None
    return (
        f"{usable} paired rounds with a positive value on both sides "
        f"(at least {MIN_ROUNDS} needed for a signed-rank interval)"
    )


def paired_ratio(
    pairs: Sequence[tuple[float, float]], confidence: float = CONFIDENCE
) -> PairedRatio | None:
    """Hodges-Lehmann estimate of candidate / baseline from (baseline, candidate) per round, with
    the exact Wilcoxon signed-rank interval; None when `too_few_rounds` says why.

    Works on log ratios, so a round that runs slower as a whole cancels out, swapping the sides
    inverts the ratio and its interval, and the unit does not matter. The estimate is the median
    of the Walsh averages (every mean of two rounds' log ratios, a round with itself included);
    the interval is every ratio the two-sided signed-rank test at 1 - `confidence` does not
    reject, and covers the true ratio at least that often when rounds are independent and their
    noise symmetric. Compared with a percentile bootstrap of the median of per-round ratios: the
    coverage is exact rather than short (with 8 rounds the bootstrap's 95% interval lay wholly
    above 1 in 3-6% of simulated A/A gates, not 2.5%: benchmarks/gate_power_sim.py), and from
    ROUNDS_ONE_ODD_CANNOT_END rounds on one odd round cannot carry an end of the interval.
    """
    logs = _log_ratios(pairs)
    if len(logs) < MIN_ROUNDS:
        return None
    n = len(logs)
    averages = (logs[:, None] + logs[None, :])[np.triu_indices(n)] / 2
    point = float(np.median(averages))
    walsh = np.unique(averages)
    if len(walsh) == 1:
        return PairedRatio(math.exp(point), math.exp(point), math.exp(point), n, confidence)
    # The signed-rank statistic of logs - shift changes only where the shift crosses a Walsh
    # average, so one test between each two neighbours decides every shift in between (no
    # difference is then zero and no two tie: scipy's "auto" is the exact test up to 50 rounds).
    between = (walsh[:-1] + walsh[1:]) / 2
    p_values = stats.wilcoxon(logs[None, :] - between[:, None], axis=1, method="auto").pvalue
    kept = np.flatnonzero(p_values > 1 - confidence)
    low, high = walsh[kept[0]], walsh[kept[-1] + 1]
    return PairedRatio(math.exp(point), math.exp(low), math.exp(high), n, confidence)


def _log_ratios(pairs: Sequence[tuple[float, float]]) -> np.ndarray:
    """log(candidate) - log(baseline) of the rounds where both are positive and finite."""
    values = np.asarray(pairs, float).reshape(-1, 2)
    usable = np.all(np.isfinite(values) & (values > 0), axis=1)
    base, cand = values[usable, 0], values[usable, 1]
    return np.log(cand) - np.log(base)
