"""The capacity search: which open-model rate to try next, and what each step's trials decide.

Rates grow geometrically from the start until a step fails, then the search bisects (in the
geometric middle) between the highest rate that passed and the lowest that failed, until the
two are within the resolution. A step's verdict is the majority of its trials, decided as
soon as the majority is certain, so a clear step costs two trials of three, not three.

A trial the load generator could not drive (saturated) says nothing about the engine. A step
so limited is a ceiling of what this generator can measure: the search bisects below it like
below a failed step, and if the bracket closes on the ceiling rather than on a failure, its
answer is a lower bound, said as one, never the engine's capacity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from veltrix_bench.analysis.checks import Check
from veltrix_bench.models.summary import Summary

GROWTH = 4.0
"""Fewest steps on average for capacities of 150 to 10,000/s from a start of 100/s (a
simulation over log-uniform capacities: 8.3 steps at 4, 9.0 at 2, 8.9 at 6): the
bisection's four or five steps dominate whatever the growth."""
RESOLUTION = 0.05
LOWEST_RATE = 1.0
DOWNWARD_STEPS = 6
"""A search whose first step fails goes down by the growth factor at most this many times."""
ACHIEVED_MIN = 0.95
"""A step passes only if at least this share of the offered requests was answered ok."""


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # the engine missed an objective while the generator kept up
    GENERATOR = "generator"  # the generator, not the engine, limited the step


class Limit(StrEnum):
    """Why the search stopped, which says what its answer is."""

    ENGINE = "engine"  # bracketed within the resolution: the capacity
    GENERATOR = "generator"  # the generator's ceiling closed the bracket: a lower bound
    MAX_RATE = "max_rate"  # passed at --max-rate: a lower bound
    BELOW_START = "below_start"  # failed even far below --start: no capacity found


@dataclass(frozen=True)
class TrialVerdict:
    verdict: Verdict
    reasons: tuple[str, ...] = ()  # why it did not pass, one line each


def trial_verdict(summary: Summary, slos: Sequence[Check], unanswered: int) -> TrialVerdict:
    """One trial of a step: every SLO holds on intended-time latency, at least ACHIEVED_MIN of
    the offered requests were answered ok (none left unanswered), and the generator kept up.

    A saturated generator makes the trial say nothing about the engine (GENERATOR) — unless
    it still sent at least ACHIEVED_MIN of the schedule and the engine left too much of that
    unanswered (or refused it): its late starts cannot explain answers that never came. A run
    the engine did not survive, or that broke an invariant, fails.
    """
    generator = summary.generator
    answered = achieved_ratio(summary)
    sent = generator.achieved_rate_ratio if generator.achieved_rate_ratio is not None else 1.0
    not_answered = answered is None or answered < ACHIEVED_MIN or unanswered > 0
    if generator.saturated and not (sent >= ACHIEVED_MIN and not_answered):
        late = generator.late_starts.generator
        return TrialVerdict(
            Verdict.GENERATOR,
            (f"the load generator could not keep up ({late:,} starts late on its side)",),
        )
    reasons = []
    if summary.status == "engine_died":
        reasons.append(f"the engine died: {summary.status_detail.splitlines()[0]}")
    reasons += [f"invariant {name} broken" for name in summary.broken_invariants]
    for slo in slos:
        result = slo.evaluate(summary)
        if not result.passed:
            reasons.append(f"{slo.text}: {result.detail}")
    if answered is None or answered < ACHIEVED_MIN:
        shown = "nothing" if answered is None else f"{answered:.1%}"
        reasons.append(f"{shown} of the offered requests answered ok ({ACHIEVED_MIN:.0%} needed)")
    if unanswered:
        reasons.append(f"{unanswered:,} requests still unanswered after the drain")
    if generator.saturated:  # and yet it sent the load: the answers are what failed
        reasons.append(f"the generator was late on some starts, but sent {sent:.1%} of the load")
    return TrialVerdict(Verdict.FAIL if reasons else Verdict.PASS, tuple(reasons))


def achieved_ratio(summary: Summary) -> float | None:
    """Requests answered ok per request offered (the open model's rate over its window)."""
    offered = (summary.load.target_rate or 0.0) * summary.load.duration_s
    return summary.requests.ok / offered if offered > 0 else None


def step_verdict(trials: list[TrialVerdict], planned: int) -> Verdict | None:
    """The majority verdict of a step's trials, or None while more trials could change it.

    A step whose pass and fail counts cannot reach a majority (generator-limited trials in
    between) is a generator verdict: the engine was not shown to pass or to fail.
    """
    need = planned // 2 + 1
    passed = sum(1 for t in trials if t.verdict is Verdict.PASS)
    failed = sum(1 for t in trials if t.verdict is Verdict.FAIL)
    remaining = planned - len(trials)
    if passed >= need:
        return Verdict.PASS
    if failed >= need:
        return Verdict.FAIL
    if passed + remaining < need and failed + remaining < need:
        return Verdict.GENERATOR
    return None


def nice_rate(rate: float) -> float:
    """`rate` rounded to three significant digits (4,525.48 -> 4,530), never below 1/s."""
    if rate <= LOWEST_RATE:
        return LOWEST_RATE
    digits = 3 - int(math.floor(math.log10(rate))) - 1
    return float(round(rate, digits))


@dataclass
class CapacitySearch:
    """The state of one config's search; `next_rate` says what to try, `record` what it did."""

    start: float
    max_rate: float | None = None
    growth: float = GROWTH
    resolution: float = RESOLUTION
    passed: float | None = None  # the highest rate whose step passed
    failed: float | None = None  # the lowest rate whose step failed
    ceiling: float | None = None  # the lowest rate the generator could not drive
    limit: Limit | None = None
    history: list[tuple[float, Verdict]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and self.start >= LOWEST_RATE):
            raise ValueError(f"start rate {self.start:g}/s: it must be at least {LOWEST_RATE:g}/s")
        if self.max_rate is not None and not self.start <= self.max_rate:
            raise ValueError(
                f"maximum rate {self.max_rate:g}/s: it must not be below the start rate "
                f"({self.start:g}/s)"
            )
        if not (math.isfinite(self.growth) and self.growth > 1):
            raise ValueError(f"growth factor {self.growth:g}: it must be above 1")
        if not 0 < self.resolution < 1:
            raise ValueError(
                f"resolution {self.resolution:g}: a fraction between 0 and 1 is needed (e.g. 5%)"
            )

    @property
    def done(self) -> bool:
        return self.limit is not None

    @property
    def upper(self) -> float | None:
        """The lowest rate that did not pass: a failure, or the generator's ceiling."""
        found = [rate for rate in (self.failed, self.ceiling) if rate is not None]
        return min(found) if found else None

    def next_rate(self) -> float | None:
        """The rate of the next step, or None once the search has its answer."""
        if self.limit is not None:
            return None
        upper = self.upper
        if upper is None:  # still growing
            if self.passed is None:
                return nice_rate(self.start)
            rate = nice_rate(self.passed * self.growth)
            if self.max_rate is not None and rate >= self.max_rate:
                return nice_rate(self.max_rate)
            return rate
        if self.passed is None:  # even the start did not pass: go down
            return nice_rate(max(LOWEST_RATE, upper / self.growth))
        return nice_rate(math.sqrt(self.passed * upper))

    def record(self, rate: float, verdict: Verdict) -> None:
        self.history.append((rate, verdict))
        if verdict is Verdict.PASS:
            self.passed = rate if self.passed is None else max(self.passed, rate)
            if self.max_rate is not None and rate >= self.max_rate:
                self.limit = Limit.MAX_RATE
                return
        elif verdict is Verdict.FAIL:
            self.failed = rate if self.failed is None else min(self.failed, rate)
        else:
            self.ceiling = rate if self.ceiling is None else min(self.ceiling, rate)
        upper = self.upper
        if upper is None:
            return  # still growing
        if self.passed is None:
            downward = sum(1 for _, v in self.history if v is not Verdict.PASS)
            if downward > DOWNWARD_STEPS or upper <= LOWEST_RATE:
                self.limit = Limit.GENERATOR if upper == self.ceiling else Limit.BELOW_START
            return
        middle = nice_rate(math.sqrt(self.passed * upper))
        if upper <= self.passed * (1 + self.resolution) or middle in (self.passed, upper):
            # closed on a failure: the engine's capacity; on the ceiling: only a lower bound
            self.limit = Limit.ENGINE if upper == self.failed else Limit.GENERATOR

    @property
    def capacity(self) -> float | None:
        """The highest rate that passed (a lower bound unless the limit is the engine)."""
        return self.passed

    @property
    def is_lower_bound(self) -> bool:
        return self.limit in (Limit.GENERATOR, Limit.MAX_RATE)
