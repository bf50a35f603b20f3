"""Gate verdicts: threshold checks on one run, and regression checks of a candidate against a
baseline (called only when the whole confidence interval is beyond the allowed change)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from veltrix_bench.analysis.checks import Check, evaluate_all
from veltrix_bench.analysis.metrics import METRICS, values

SCHEMA = "vbench.gate/1"


@dataclass(frozen=True)
class GateCheck:
    name: str  # one JUnit test case each
    kind: str  # "threshold" | "regression"
    passed: bool
    message: str  # the numbers, for people and for the JUnit failure text
    evidence: dict[str, Any]


@dataclass(frozen=True)
class GateResult:
    checks: list[GateCheck]
    source: str  # what was gated: a run directory, or baseline vs candidate

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "source": self.source,
            "passed": self.passed,
            "checks": [asdict(c) for c in self.checks],
        }


def threshold_checks(checks: list[Check], summary: dict[str, Any]) -> list[GateCheck]:
    out = []
    for result in evaluate_all(checks, summary):
        verdict = "pass" if result.passed else "FAIL"
        out.append(
            GateCheck(
                name=result.check.text,
                kind="threshold",
                passed=result.passed,
                message=f"{verdict}: {result.detail}",
                evidence={
                    "value": result.value,
                    "op": result.check.op,
                    "bound": result.check.bound,
                    "run_id": summary.get("run_id"),
                },  # fmt: skip
            )
        )
    return out


def regression_checks(
    baseline: list[dict[str, Any]], candidate: list[dict[str, Any]], bounds: dict[str, float]
) -> list[GateCheck]:
    from veltrix_bench.analysis.compare import UNKNOWN, WORSE, compare_metric  # scipy: slow import
    from veltrix_bench.analysis.metrics import paired_values, thin_tail

    out = []
    for name, allowed in bounds.items():
        metric = METRICS[name]
        reason = thin_tail(baseline + candidate, metric)
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
            GateCheck(
                name=f"{name} regression <= {allowed:.0%}",
                kind="regression",
                passed=passed,
                message=message,
                evidence={
                    "baseline": row.baseline,
                    "candidate": row.candidate,
                    "baseline_median": row.baseline_median,
                    "candidate_median": row.candidate_median,
                    "ratio": row.ratio,
                    "ci_low": row.ci_low,
                    "ci_high": row.ci_high,
                    "p_value": row.p_value,
                    "paired_rounds": row.paired_rounds,
                    "allowed": allowed,
                    "verdict": row.verdict,
                },  # fmt: skip
            )
        )
    return out


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:,.4g}"
