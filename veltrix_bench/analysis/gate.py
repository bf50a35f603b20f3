"""Gate verdicts: threshold checks on one run, and regression checks of a candidate against a
baseline (called only when the whole confidence interval is beyond the allowed change)."""

from __future__ import annotations

from collections.abc import Sequence

from veltrix_bench.analysis.checks import Check, evaluate_all
from veltrix_bench.analysis.metrics import METRICS, values
from veltrix_bench.models.gate import (
    RegressionCheck,
    RegressionEvidence,
    ThresholdCheck,
    ThresholdEvidence,
)
from veltrix_bench.models.summary import Summary, Trial


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
    from veltrix_bench.analysis.compare import UNKNOWN, WORSE, compare_metric  # scipy: slow import
    from veltrix_bench.analysis.metrics import paired_values, thin_tail

    out = []
    for name, allowed in bounds.items():
        metric = METRICS[name]
        reason = thin_tail([*baseline, *candidate], metric)
        row = compare_metric(
            metric,
            values(baseline, metric),
            values(candidate, metric),
            allowed,
            paired_values(baseline, candidate, metric),
            reason,
        )
        trials = (len(row.baseline), len(row.candidate))
        if row.verdict == UNKNOWN and reason is not None:
            passed = False
            message = f"FAIL: {reason}; run longer trials or gate a lower percentile"
        elif row.verdict == UNKNOWN:
            passed = False
            message = (
                f"FAIL: {name} cannot be judged ({trials[0]} baseline and {trials[1]} candidate "
                "values; a gate that cannot check does not pass)"
            )
        else:
            passed = row.verdict != WORSE
            direction = "rise" if metric.lower_is_better else "fall"
            message = (
                f"{'pass' if passed else 'FAIL'}: {name} {_fmt(row.candidate_median)} vs "
                f"baseline {_fmt(row.baseline_median)} (ratio {_fmt(row.ratio)}, 95% CI "
                f"{_fmt(row.ci_low)}-{_fmt(row.ci_high)}, Mann-Whitney p {_fmt(row.p_value)}, "
                f"{trials[0]}+{trials[1]} trials"
                + (f", paired in {row.paired_rounds} rounds" if row.paired_rounds else "")
                + f"); allowed {direction} {allowed:.0%}"
                + ("" if passed else ": the whole interval is beyond it")
            )
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
                ),
            )
        )
    return out


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:,.4g}"
