"""The capacity search: which open-model rate to try next, and what each step's trials decide.

Rates grow geometrically from the start until a step fails, then the search bisects (in the
geometric middle) between the highest rate that passed and the lowest that failed, until the
two are within the resolution. A step's verdict is the majority of its trials, decided as
soon as the majority is certain, so a clear step costs two trials of three, not three.

A trial the load generator could not drive (saturated) says nothing about the engine: if
such trials keep a step from a majority, the search stops and its answer is a lower bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

GROWTH = 2.0
RESOLUTION = 0.05
LOWEST_RATE = 1.0
DOWNWARD_STEPS = 6
"""A search whose first step fails goes down by the growth factor at most this many times."""


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # the engine missed an objective while the generator kept up
    GENERATOR = "generator"  # the generator, not the engine, limited the step


class Limit(StrEnum):
    """Why the search stopped, which says what its answer is."""

    ENGINE = "engine"  # bracketed within the resolution: the capacity
    GENERATOR = "generator"  # the generator saturated first: a lower bound
    MAX_RATE = "max_rate"  # passed at --max-rate: a lower bound
    BELOW_START = "below_start"  # failed even far below --start: no capacity found


@dataclass(frozen=True)
class TrialVerdict:
    verdict: Verdict
    reasons: tuple[str, ...] = ()  # why it did not pass, one line each


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
    limit: Limit | None = None
    history: list[tuple[float, Verdict]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and self.start >= LOWEST_RATE):
            raise ValueError(f"start rate must be at least {LOWEST_RATE:g}/s")
        if self.max_rate is not None and not self.start <= self.max_rate:
            raise ValueError("the maximum rate must not be below the start rate")
        if not self.growth > 1:
            raise ValueError("the growth factor must be above 1")
        if not 0 < self.resolution < 1:
            raise ValueError("the resolution must be a fraction between 0 and 1")

    @property
    def done(self) -> bool:
        return self.limit is not None

    def next_rate(self) -> float | None:
        """The rate of the next step, or None once the search has its answer."""
        if self.limit is not None:
            return None
        if self.failed is None:  # still growing
            if self.passed is None:
                return nice_rate(self.start)
            rate = nice_rate(self.passed * self.growth)
            if self.max_rate is not None and rate >= self.max_rate:
                return nice_rate(self.max_rate)
            return rate
        if self.passed is None:  # even the start failed: go down
            return nice_rate(max(LOWEST_RATE, self.failed / self.growth))
        middle = nice_rate(math.sqrt(self.passed * self.failed))
        return middle

    def record(self, rate: float, verdict: Verdict) -> None:
        self.history.append((rate, verdict))
        if verdict is Verdict.GENERATOR:
            self.limit = Limit.GENERATOR
            return
        if verdict is Verdict.PASS:
            self.passed = rate if self.passed is None else max(self.passed, rate)
            if self.max_rate is not None and rate >= self.max_rate:
                self.limit = Limit.MAX_RATE
                return
        else:
            self.failed = rate if self.failed is None else min(self.failed, rate)
            downward = sum(1 for _, v in self.history if v is Verdict.FAIL)
            if self.passed is None and (downward > DOWNWARD_STEPS or self.failed <= LOWEST_RATE):
                self.limit = Limit.BELOW_START
                return
        if self.passed is not None and self.failed is not None:
            middle = nice_rate(math.sqrt(self.passed * self.failed))
            converged = self.failed <= self.passed * (1 + self.resolution)
            if converged or middle in (self.passed, self.failed):
                self.limit = Limit.ENGINE

    @property
    def capacity(self) -> float | None:
        """The highest rate that passed (a lower bound unless the limit is the engine)."""
        return self.passed

    @property
    def is_lower_bound(self) -> bool:
        return self.limit in (Limit.GENERATOR, Limit.MAX_RATE)
