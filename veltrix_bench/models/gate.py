"""gate.json (schema vbench.gate/1): the checks a gate made and its verdict."""

from __future__ import annotations

import msgspec

SCHEMA = "vbench.gate/1"


class ThresholdEvidence(msgspec.Struct, frozen=True, kw_only=True):
    value: float | None
    op: str
    bound: float
    run_id: str | None


class RegressionEvidence(msgspec.Struct, frozen=True, kw_only=True):
    baseline: list[float]
    candidate: list[float]
    baseline_median: float | None
    candidate_median: float | None
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    paired_rounds: int
    allowed: float
    verdict: str
    method: str = ""
    """How the ratio and its interval were reached ("": a gate.json of before it was said)."""
    confidence: float | None = None
    """Of the two-sided interval; its lower end is a one-sided bound at (1 + confidence) / 2."""
    pairs: list[tuple[float, float]] = []
    """(baseline, candidate) of each paired round, in round order."""


class ThresholdCheck(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", tag="threshold"):
    """A threshold such as 'p99 < 50ms' on one run (one JUnit test case)."""

    name: str
    passed: bool
    message: str  # the numbers, for people and for the JUnit failure text
    evidence: ThresholdEvidence

    @property
    def kind(self) -> str:
        return "threshold"


class RegressionCheck(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", tag="regression"
):
    """A candidate against a baseline: fails only when the whole interval is beyond the bound."""

    name: str
    passed: bool
    message: str
    evidence: RegressionEvidence

    @property
    def kind(self) -> str:
        return "regression"


GateCheck = ThresholdCheck | RegressionCheck


class GateResult(msgspec.Struct, frozen=True, kw_only=True):
    schema: str = SCHEMA
    source: str  # what was gated: a run directory, or baseline vs candidate
    passed: bool
    checks: list[GateCheck]

    @classmethod
    def of(cls, checks: list[GateCheck], source: str) -> GateResult:
        return cls(source=source, passed=all(check.passed for check in checks), checks=checks)

    @property
    def failed(self) -> int:
        return sum(1 for check in self.checks if not check.passed)
