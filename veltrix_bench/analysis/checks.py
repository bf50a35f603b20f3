"""Threshold checks like 'p99 < 50ms' on a summary: the grammar, units, and verdicts.

Grammar:  CHECK  := METRIC OP NUMBER [UNIT]
          METRIC := a name from analysis.compare.METRICS (p99, error_rate, …) or a dotted
                    path to a number in summary.json (latency_ms.p999, requests.total, …)
          OP     := < | <= | > | >= | == | !=
          UNIT   := us | ms | s  (time metrics, held in ms)   |   %  (fractions and rates)
A bare number is in the metric's own unit (ms for latency, a fraction for rates).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from veltrix_bench.analysis.metrics import METRICS, Metric
from veltrix_bench.models.summary import Summary

_CHECK = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<number>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(?P<unit>us|µs|ms|s|%)?\s*$"
)
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}  # fmt: skip
_TIME_FACTOR_TO_MS = {"us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0}


class CheckError(ValueError):
    """A malformed check or an unknown metric (exit 2)."""


@dataclass(frozen=True)
class Check:
    text: str
    metric: Metric
    op: str
    bound: float  # in the metric's own unit

    def evaluate(self, summary: Summary) -> CheckResult:
        value = self.metric.value(summary)
        if value is None:
            return CheckResult(self, None, False, f"{self.metric.name} is not in this summary")
        passed = OPS[self.op](value, self.bound)
        unit = f" {self.metric.unit}" if self.metric.unit else ""
        detail = f"{self.metric.name} = {value:,.6g}{unit}; bound {self.op} {self.bound:,.6g}{unit}"
        return CheckResult(self, value, passed, detail)


@dataclass(frozen=True)
class CheckResult:
    check: Check
    value: float | None
    passed: bool
    detail: str


def split_check(text: str) -> tuple[str, str, float, str | None]:
    """(metric name, operator, number, unit or None) of a check in the grammar above."""
    match = _CHECK.match(text)
    if match is None:
        raise CheckError(
            f"check '{text}': expected METRIC OP NUMBER[UNIT], e.g. 'p99 < 50ms' or "
            "'error_rate < 1%'"
        )
    return match["metric"], match["op"], float(match["number"]), match["unit"]


def parse_check(text: str) -> Check:
    name, op, number, unit = split_check(text)
    metric = resolve_metric(name, text)
    if unit in _TIME_FACTOR_TO_MS:
        if metric.unit != "ms":
            raise CheckError(f"check '{text}': {metric.name} is not a time; drop '{unit}'")
        number *= _TIME_FACTOR_TO_MS[unit]
    elif unit == "%":
        if metric.unit not in ("",):
            raise CheckError(f"check '{text}': {metric.name} is in {metric.unit}, not a fraction")
        number /= 100
    return Check(text.strip(), metric, op, number)


def resolve_metric(name: str, text: str) -> Metric:
    if name in METRICS:
        return METRICS[name]
    if "." in name:
        path = tuple(name.split("."))
        unit = "ms" if path[0] in ("latency_ms", "service_time_ms") else ""
        lower = path[-1] not in ("throughput_rps", "ok", "achieved_rate_ratio")
        profiled = path[0] in ("memory", "cpu")
        return Metric(name, path, lower, unit, profiled)
    raise CheckError(
        f"check '{text}': unknown metric '{name}' (known: {', '.join(METRICS)}, or a dotted "
        "path into summary.json such as latency_ms.p999)"
    )


def evaluate_all(checks: list[Check], summary: Summary) -> list[CheckResult]:
    return [check.evaluate(summary) for check in checks]
