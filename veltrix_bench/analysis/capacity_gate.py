"""Gate checks on a capacity directory: a bound on each config's capacity, and a capacity
regression of the second config (the candidate) against the first (the baseline).

A lower bound passes a `>=` or `>` check when the bound itself meets it (the engine sustains
at least that), and can pass no other: the engine may sustain more than it shows. A
regression is called only when the candidate's whole bracket — from its highest pass to its
lowest failure — lies below the baseline's capacity by more than the allowed fall: the same
"whole interval beyond the bound" rule as the latency gate. The two configs ran interleaved
at every step of the search, which is what pairs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from veltrix_bench.analysis.capacity_result import per_second
from veltrix_bench.analysis.checks import OPS, CheckError, split_check
from veltrix_bench.analysis.metrics import parse_fraction
from veltrix_bench.models.capacity import CapacityResult, ConfigCapacity
from veltrix_bench.models.gate import (
    RegressionCheck,
    RegressionEvidence,
    ThresholdCheck,
    ThresholdEvidence,
)

METRIC = "capacity"
AT_LEAST = (">=", ">")


@dataclass(frozen=True)
class CapacityCheck:
    text: str
    op: str
    bound: float  # requests/s


def parse_capacity_check(text: str) -> CapacityCheck:
    """'capacity >= 3000' (requests/s, a bare number); CheckError for anything else."""
    metric, op, number, unit = split_check(text)
    if metric != METRIC:
        raise CheckError(
            f"check '{text}': a capacity directory is gated on its capacity, e.g. "
            "'capacity >= 3000' (requests/s)"
        )
    if unit is not None:
        raise CheckError(f"check '{text}': capacity is in requests/s: give a bare number")
    return CapacityCheck(text.strip(), op, number)


def parse_capacity_bound(item: str) -> float:
    """'capacity=10%' -> 0.10 (the largest fall allowed); ValueError naming the item."""
    name, sep, amount = item.partition("=")
    if not sep or name.strip() != METRIC:
        raise ValueError(
            f"--max-regression '{item}': a capacity directory is gated on its capacity, "
            "e.g. capacity=10%"
        )
    fall = parse_fraction(amount)
    if not 0 <= fall < 1:
        raise ValueError(f"--max-regression '{item}': the allowed fall is between 0% and 100%")
    return fall


def threshold_checks(check: CapacityCheck, result: CapacityResult) -> list[ThresholdCheck]:
    """The check on every config of the search, one gate check each."""
    return [_threshold(check, config) for config in result.configs]


def _threshold(check: CapacityCheck, config: ConfigCapacity) -> ThresholdCheck:
    value, op, bound = config.capacity, check.op, check.bound
    shown = per_second(value)
    if value is None:
        passed, detail = False, f"{config.name} sustained none of the rates tried"
    elif config.lower_bound and op not in AT_LEAST:
        passed = False
        detail = (
            f"{config.name} sustains at least {shown}, a lower bound ({config.limit_cause}): "
            f"it cannot pass a '{op}' check, the engine may sustain more"
        )
    elif config.lower_bound:
        passed = OPS[op](value, bound)
        detail = f"{config.name} sustains at least {shown} (a lower bound); bound {op} {bound:,g}/s"
        if not passed:
            detail += ": the search stopped below it, so the check cannot be shown to hold"
    else:
        passed = OPS[op](value, bound)
        detail = f"{config.name} sustains {shown}; bound {op} {bound:,g}/s"
    return ThresholdCheck(
        name=f"{config.name}: {check.text}",
        passed=passed,
        message=f"{'pass' if passed else 'FAIL'}: {detail}",
        evidence=ThresholdEvidence(value=value, op=op, bound=bound, run_id=config.name),
    )


def _top(config: ConfigCapacity) -> float | None:
    """The top of the bracket the capacity lies in (its lowest failure); None: unbounded."""
    return None if config.lower_bound else config.lowest_failed


def regression_check(result: CapacityResult, allowed: float) -> RegressionCheck:
    """The candidate (second config) against the baseline (first)."""
    from veltrix_bench.analysis.compare import SAME, UNKNOWN, WORSE  # scipy: a slow import

    base, cand = result.configs[0], result.configs[1]
    paired = min(len(base.steps), len(cand.steps))
    base_top, cand_top = _top(base), _top(cand)
    ratio = ci_low = ci_high = None
    if base.capacity:
        ratio = (cand.capacity or 0.0) / base.capacity
        ci_high = None if cand_top is None else cand_top / base.capacity
        ci_low = None if base_top is None else (cand.capacity or 0.0) / base_top
    name = f"capacity regression <= {allowed:.0%}"
    if not base.capacity:
        passed, verdict = False, UNKNOWN
        message = (
            f"FAIL: the baseline {base.name} sustained none of the rates tried: nothing to "
            "compare against (a gate that cannot check does not pass)"
        )
    else:
        floor = base.capacity * (1 - allowed)
        passed = ci_high is None or ci_high >= 1 - allowed
        verdict = SAME if passed else WORSE
        bracket = f"{per_second(cand.capacity)}–{per_second(cand_top)}"
        if cand_top is None:
            bracket = f"at least {per_second(cand.capacity)} (a lower bound)"
        message = (
            f"{'pass' if passed else 'FAIL'}: {cand.name}'s capacity is {bracket} vs "
            f"{per_second(base.capacity)} for {base.name}; allowed fall {allowed:.0%} "
            f"(to {per_second(floor)})"
            + ("" if passed else ": the whole bracket lies below it")
            + f"; both searched interleaved at every step ({paired} paired steps)"
        )
    return RegressionCheck(
        name=name,
        passed=passed,
        message=message,
        evidence=RegressionEvidence(
            baseline=_bracket(base),
            candidate=_bracket(cand),
            baseline_median=base.capacity,
            candidate_median=cand.capacity,
            ratio=ratio,
            ci_low=ci_low,
            ci_high=ci_high,
            p_value=None,
            paired_rounds=paired,
            allowed=allowed,
            verdict=verdict,
        ),
    )


def _bracket(config: ConfigCapacity) -> list[float]:
    """[highest pass, lowest failure], what of it is known."""
    return [rate for rate in (config.capacity, _top(config)) if rate is not None]
