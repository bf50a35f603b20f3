"""The capacity search: geometric growth, bisection to the resolution, majority verdicts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veltrix_bench.analysis.capacity import (
    CapacitySearch,
    Limit,
    TrialVerdict,
    Verdict,
    nice_rate,
    step_verdict,
)

P, F, G = (TrialVerdict(v) for v in (Verdict.PASS, Verdict.FAIL, Verdict.GENERATOR))


def search_against(true_capacity: float, **options: float) -> CapacitySearch:
    """Run a search against an engine that passes exactly the rates up to `true_capacity`."""
    search = CapacitySearch(**options)  # type: ignore[arg-type]
    for _ in range(100):
        rate = search.next_rate()
        if rate is None:
            return search
        search.record(rate, Verdict.PASS if rate <= true_capacity else Verdict.FAIL)
    raise AssertionError("the search did not end")


def test_the_search_grows_geometrically_then_brackets_the_capacity_within_five_percent() -> None:
    search = search_against(4_000, start=100)
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


def test_a_first_step_that_fails_searches_downward() -> None:
    search = search_against(300, start=1000)
    assert [rate for rate, _ in search.history][:3] == [1000, 500, 250]
    assert search.limit is Limit.ENGINE
    assert search.capacity is not None and 250 <= search.capacity <= 300


def test_passing_at_the_maximum_rate_is_a_lower_bound() -> None:
    search = search_against(10_000, start=100, max_rate=1_500)
    assert search.history[-1] == (1_500, Verdict.PASS)
    assert search.limit is Limit.MAX_RATE and search.is_lower_bound
    assert search.capacity == 1_500


def test_a_generator_limited_step_stops_the_search_with_a_lower_bound() -> None:
    search = CapacitySearch(start=1000)
    search.record(1000, Verdict.PASS)
    search.record(2000, Verdict.PASS)
    search.record(4000, Verdict.GENERATOR)
    assert search.next_rate() is None
    assert search.limit is Limit.GENERATOR and search.is_lower_bound
    assert search.capacity == 2000


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
