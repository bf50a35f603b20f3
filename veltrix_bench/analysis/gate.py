"""Gate verdicts: threshold checks on one run, and regression checks of a candidate against a
baseline in paired rounds (a regression when the one-sided 95% bound is beyond the allowed
change)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from veltrix_bench.analysis.checks import Check, evaluate_all
from veltrix_bench.analysis.metrics import METRICS, values
from veltrix_bench.models.gate import (
    RegressionCheck,
    RegressionEvidence,
    ThresholdCheck,
    ThresholdEvidence,
)
from veltrix_bench.models.summary import Summary, Trial

if TYPE_CHECKING:
    from veltrix_bench.analysis.compare import MetricComparison


def threshold_checks(checks: list[Check], summary: Summary) -> list[ThresholdCheck]:
    out = []
    for result in evaluate_all(checks, summary):
        verdict = "pass" if result.passed else "FAIL"
        out.append(
            ThresholdCheck(
                name=result.check.text,
                passed=result.passed,
                message=f"{verdict}: {result.detail}",
                evidence=ThresholdEvidence(
                    value=result.value,
                    op=result.check.op,
                    bound=result.check.bound,
                    run_id=summary.run_id,
                ),
            )
        )
    return out


def regression_checks(
    baseline: Sequence[Trial], candidate: Sequence[Trial], bounds: dict[str, float]
) -> list[RegressionCheck]:
    """One check per bounded metric, judged on paired rounds by the one-sided 95% bound of the
    ratio (`paired.ONE_SIDED_95`): a regression is called when that bound is beyond the allowed
    change. Trials that are not paired rounds, or too few of them, fail as insufficient data."""
    from veltrix_bench.analysis.compare import UNKNOWN, WORSE, compare_metric  # scipy: slow import
    from veltrix_bench.analysis.metrics import paired_values, thin_tail
    from veltrix_bench.analysis.paired import ONE_SIDED_95

    out = []
    for name, allowed in bounds.items():
        metric = METRICS[name]
        pairs = paired_values(baseline, candidate, metric)
        thin = thin_tail([*baseline, *candidate], metric)
        unpaired = _unpaired(pairs)
        row = compare_metric(
            metric,
            values(baseline, metric),
            values(candidate, metric),
            allowed,
            pairs,
            thin or unpaired,
            confidence=ONE_SIDED_95,
        )
        trials = (len(row.baseline), len(row.candidate))
        if thin is not None:
            passed = False
            message = f"FAIL: {thin}; run longer trials or gate a lower percentile"
        elif unpaired is not None:
            passed = False
            message = f"FAIL: {name}: {UNKNOWN}: {unpaired}; a gate that cannot check does not pass"
        elif row.verdict == UNKNOWN:
            passed = False
            message = (
                f"FAIL: {name} cannot be judged ({trials[0]} baseline and {trials[1]} candidate "
                "values; a gate that cannot check does not pass)"
            )
        else:
            passed = row.verdict != WORSE
            message = _judged(row, allowed, passed, trials)
        out.append(
            RegressionCheck(
                name=f"{name} regression <= {allowed:.0%}",
                passed=passed,
                message=message,
                evidence=RegressionEvidence(
                    baseline=row.baseline,
                    candidate=row.candidate,
                    baseline_median=row.baseline_median,
                    candidate_median=row.candidate_median,
                    ratio=row.ratio,
                    ci_low=row.ci_low,
                    ci_high=row.ci_high,
                    p_value=row.p_value,
                    paired_rounds=row.paired_rounds,
                    allowed=allowed,
                    verdict=row.verdict,
                    method=row.method,
                    confidence=row.confidence,
                    pairs=row.pairs,
                ),
            )
        )
    return out


def _unpaired(pairs: list[tuple[float, float]] | None) -> str | None:
    """Why these trials give no paired interval, or None when they do."""
    from veltrix_bench.analysis.paired import too_few_rounds

    if pairs is None:
        return (
            "the trials did not run as paired rounds of one gate or comparison "
            "(finished runs, or trials of an earlier vbench)"
        )
    return too_few_rounds(pairs)


def _judged(row: MetricComparison, allowed: float, passed: bool, trials: tuple[int, int]) -> str:
    """E.g. 'FAIL: p99 13.9 vs baseline 11.1 (ratio 1.25, one-sided 95% bound 1.18; 90%
    interval 1.18-1.31, Hodges-Lehmann over 12 paired rounds of 12+12 trials); allowed rise
    10%: the bound is beyond it'."""
    from veltrix_bench.analysis.paired import ROUNDS_ONE_ODD_CANNOT_END

    lower_is_better = row.lower_is_better
    bound = row.ci_low if lower_is_better else row.ci_high
    one_sided = (1 + row.confidence) / 2
    rounds = row.paired_rounds
    message = (
        f"{'pass' if passed else 'FAIL'}: {row.metric} {_fmt(row.candidate_median)} vs "
        f"baseline {_fmt(row.baseline_median)} (ratio {_fmt(row.ratio)}, one-sided "
        f"{one_sided:.0%} bound {_fmt(bound)}; {row.confidence:.0%} interval "
        f"{_fmt(row.ci_low)}-{_fmt(row.ci_high)}, Hodges-Lehmann over {rounds} paired rounds "
        f"of {trials[0]}+{trials[1]} trials); allowed {'rise' if lower_is_better else 'fall'} "
        f"{allowed:.0%}" + ("" if passed else ": the bound is beyond it")
    )
    enough = ROUNDS_ONE_ODD_CANNOT_END[row.confidence]
    if rounds < enough:
        message += (
            f" (warning: with fewer than {enough} paired rounds one odd round can be the "
            "bound; run more trials)"
        )
    return message


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:,.4g}"
