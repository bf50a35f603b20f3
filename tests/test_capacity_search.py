"""The capacity search: geometric growth, bisection to the resolution, majority verdicts."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.summaries import summary_of
from veltrix_bench.analysis.capacity import (
    CapacitySearch,
    Limit,
    TrialVerdict,
    Verdict,
    nice_rate,
    step_verdict,
    trial_verdict,
)
from veltrix_bench.analysis.checks import parse_check

P, F, G = (TrialVerdict(v) for v in (Verdict.PASS, Verdict.FAIL, Verdict.GENERATOR))


def search_against(
    true_capacity: float, generator_ceiling: float = math.inf, **options: float
) -> CapacitySearch:
    """Run a search against an engine that passes exactly the rates up to `true_capacity`,
    driven by a generator that cannot offer more than `generator_ceiling`."""
    search = CapacitySearch(**options)  # type: ignore[arg-type]
    for _ in range(100):
        rate = search.next_rate()
        if rate is None:
            return search
        if rate > generator_ceiling:
            search.record(rate, Verdict.GENERATOR)
        else:
            search.record(rate, Verdict.PASS if rate <= true_capacity else Verdict.FAIL)
    raise AssertionError("the search did not end")


def test_the_search_grows_geometrically_then_brackets_the_capacity_within_five_percent() -> None:
    search = search_against(4_000, start=100, growth=2)
    rates = [rate for rate, _ in search.history]
    assert rates[:7] == [100, 200, 400, 800, 1600, 3200, 6400]
    assert search.limit is Limit.ENGINE
    assert search.capacity is not None and search.failed is not None
    assert search.capacity <= 4_000 < search.failed <= search.capacity * 1.05
    assert len(rates) <= 12


@given(
    true_capacity=st.floats(min_value=1, max_value=200_000),
    start=st.sampled_from([10.0, 100.0, 250.0, 1000.0]),
)
def test_any_capacity_above_the_floor_is_bracketed_within_the_resolution(
    true_capacity: float, start: float
) -> None:
    search = search_against(true_capacity, start=start)
    if search.limit is Limit.BELOW_START:
        assert true_capacity < max(1.0, start / 2**6)
        return
    assert search.limit is Limit.ENGINE
    assert search.capacity is not None and search.failed is not None
    assert search.capacity <= true_capacity < search.failed
    # three significant digits of rounding can leave the bracket a hair wider than 5%
    assert search.failed <= search.capacity * 1.05 + 10**-2 * search.capacity


def test_the_default_growth_finds_the_stories_two_capacities_in_few_steps() -> None:
    tuned, default = search_against(4_000, start=100), search_against(250, start=100)
    assert [rate for rate, _ in tuned.history][:4] == [100, 400, 1600, 6400]
    assert len(tuned.history) + len(default.history) <= 16
    assert tuned.limit is default.limit is Limit.ENGINE


def test_a_first_step_that_fails_searches_downward() -> None:
    search = search_against(300, start=1000, growth=2)
    assert [rate for rate, _ in search.history][:3] == [1000, 500, 250]
    assert search.limit is Limit.ENGINE
    assert search.capacity is not None and 250 <= search.capacity <= 300


def test_passing_at_the_maximum_rate_is_a_lower_bound() -> None:
    search = search_against(10_000, start=100, max_rate=1_500)
    assert search.history[-1] == (1_500, Verdict.PASS)
    assert search.limit is Limit.MAX_RATE and search.is_lower_bound
    assert search.capacity == 1_500


def test_a_generator_limited_step_is_a_ceiling_the_search_bisects_below() -> None:
    search = CapacitySearch(start=1000, growth=2)
    search.record(1000, Verdict.PASS)
    search.record(2000, Verdict.PASS)
    search.record(4000, Verdict.GENERATOR)
    assert search.next_rate() == 2830  # between the last pass and the ceiling
    search.record(2830, Verdict.FAIL)  # the engine failed where the generator kept up
    assert search.upper == 2830 and not search.done


@given(
    true_capacity=st.floats(min_value=10, max_value=50_000),
    ceiling=st.floats(min_value=10, max_value=50_000),
)
def test_a_generator_ceiling_never_passes_for_the_engines_capacity(
    true_capacity: float, ceiling: float
) -> None:
    search = search_against(true_capacity, ceiling, start=10)
    assert search.limit in (Limit.ENGINE, Limit.GENERATOR, Limit.BELOW_START)
    if search.limit is Limit.ENGINE:  # bracketed by a failure the generator could drive
        assert search.capacity is not None and search.failed is not None
        assert search.capacity <= true_capacity < search.failed <= ceiling
    elif search.limit is Limit.GENERATOR:  # only a lower bound, and said as one
        assert search.is_lower_bound and search.ceiling is not None
        assert search.capacity is None or search.capacity <= min(true_capacity, ceiling)
        assert search.failed is None or search.ceiling < search.failed


@pytest.mark.parametrize(
    ("trials", "planned", "expected"),
    [
        ([P, P], 3, Verdict.PASS),  # two of three decided: the third is not run
        ([F, F], 3, Verdict.FAIL),
        ([P, F], 3, None),
        ([P, F, P], 3, Verdict.PASS),
        ([G, P], 3, None),
        ([G, P, F], 3, Verdict.GENERATOR),
        ([G, G], 3, Verdict.GENERATOR),
        ([P], 1, Verdict.PASS),
        ([G], 1, Verdict.GENERATOR),
        ([P, F], 2, Verdict.GENERATOR),  # a tie is no majority; said as inconclusive
        ([P, P, F], 5, None),
    ],
)
def test_a_step_is_decided_by_the_majority_of_its_trials(
    trials: list[TrialVerdict], planned: int, expected: Verdict | None
) -> None:
    assert step_verdict(trials, planned) == expected


def test_rates_are_rounded_to_three_significant_digits() -> None:
    assert [nice_rate(r) for r in (4525.48, 99.94, 0.2, 123456)] == [4530, 99.9, 1, 123000]


@pytest.mark.parametrize(
    "options",
    [
        {"start": 0.5},
        {"start": float("nan")},
        {"start": 100, "max_rate": 50},
        {"start": 100, "growth": 1.0},
        {"start": 100, "resolution": 0.0},
    ],
)
def test_a_search_with_impossible_settings_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CapacitySearch(**options)  # type: ignore[arg-type]


# -- one trial of a step, from its summary --------------------------------------------------------
SLOS = [parse_check("p99 < 50ms"), parse_check("error_rate < 1%")]
HEALTHY: dict[str, Any] = {
    "load": {"target_rate": 100.0, "duration_s": 10.0},
    "requests": {"total": 1000, "ok": 1000, "error_rate": 0.0},
    "latency_ms": {"p50": 3.0, "p99": 20.0},
}


@pytest.mark.parametrize(
    ("changes", "unanswered", "verdict", "reason"),
    [
        ({}, 0, Verdict.PASS, None),
        ({"latency_ms": {"p50": 3.0, "p99": 80.0}}, 0, Verdict.FAIL, "p99 < 50ms"),
        ({"requests": {"total": 1000, "ok": 970, "error_rate": 0.03}}, 0, Verdict.FAIL,
         "error_rate < 1%"),
        ({"requests": {"total": 940, "ok": 940}}, 0, Verdict.FAIL, "94.0% of the offered"),
        ({}, 3, Verdict.FAIL, "3 requests still unanswered"),
        ({"status": "engine_died", "status_detail": "engine exited (code -9)\nlast lines"}, 0,
         Verdict.FAIL, "the engine died: engine exited (code -9)"),
        ({"invariants": {"acked_equals_persisted": False}}, 0, Verdict.FAIL,
         "acked_equals_persisted"),
        # a saturated generator says nothing about the engine, even with a failing p99 ...
        ({"generator": {"saturated": True, "late_starts": {"in_flight_cap": 0, "generator": 40}},
          "latency_ms": {"p99": 900.0}}, 0, Verdict.GENERATOR, "could not keep up"),
        ({"generator": {"saturated": True, "achieved_rate_ratio": 0.8},
          "requests": {"total": 800, "ok": 800}}, 0, Verdict.GENERATOR, "could not keep up"),
        # ... unless it sent the load and the engine left it unanswered
        ({"generator": {"saturated": True, "achieved_rate_ratio": 1.0},
          "requests": {"total": 30, "ok": 30}}, 770, Verdict.FAIL, "770 requests still"),
    ],
)  # fmt: skip
def test_a_trial_passes_only_when_every_slo_holds_the_rate_was_achieved_and_the_generator_kept_up(
    changes: dict[str, Any], unanswered: int, verdict: Verdict, reason: str | None
) -> None:
    judged = trial_verdict(summary_of({**HEALTHY, **changes}), SLOS, unanswered)
    assert judged.verdict is verdict
    if reason is None:
        assert judged.reasons == ()
    else:
        assert any(reason in line for line in judged.reasons), judged.reasons
