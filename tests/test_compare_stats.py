"""Comparison statistics on fixed data: medians, ratio interval, verdicts, headline."""

from __future__ import annotations

import pytest

from veltrix_bench.analysis.compare import (
    BETTER,
    METRICS,
    SAME,
    WORSE,
    compare_metric,
    headline,
    parse_metric_bounds,
    ratio_interval,
)

DEFAULT = [512.0, 498.0, 530.0, 505.0, 520.0]
TUNED = [48.0, 50.0, 47.0, 49.5, 46.0]


def test_a_tenfold_latency_drop_is_called_better_with_an_interval_around_it() -> None:
    row = compare_metric(METRICS["p99"], DEFAULT, TUNED, 0.05)
    assert row.verdict == BETTER
    assert row.ratio == pytest.approx(48.0 / 512.0)
    assert row.ci_low is not None and row.ci_high is not None
    assert row.ci_low <= row.ratio <= row.ci_high < 0.95
    assert row.p_value == pytest.approx(0.0079, abs=0.001)  # the smallest for 5 vs 5


def test_higher_throughput_is_better_and_lower_is_worse() -> None:
    assert compare_metric(METRICS["throughput"], [100.0] * 5, [150.0] * 5, 0.05).verdict == BETTER
    assert compare_metric(METRICS["throughput"], [150.0] * 5, [100.0] * 5, 0.05).verdict == WORSE


def test_noise_inside_the_threshold_is_not_called() -> None:
    row = compare_metric(METRICS["p99"], [50.0, 51.0, 49.0, 50.5, 49.5],
                         [50.5, 49.0, 51.5, 50.0, 50.2], 0.05)  # fmt: skip
    assert row.verdict == SAME


def test_identical_sides_give_a_point_interval() -> None:
    assert ratio_interval([2.0, 2.0, 2.0], [3.0, 3.0, 3.0]) == (1.5, 1.5)


def test_headline_reads_like_a_sentence() -> None:
    row = compare_metric(METRICS["p99"], DEFAULT, TUNED, 0.05)
    text = headline("default", "tuned", row, (5, 5))
    assert text.startswith("tuned: p99 48.0 ms vs 512 ms for default — 10.67x lower (95% CI ")
    assert text.endswith("5 trials each)")


def test_metric_bounds_parse_and_reject_unknown_names() -> None:
    assert parse_metric_bounds(["p99=10%", "allocations_per_event=0.02"], "--x") == {
        "p99": pytest.approx(0.10),
        "allocations_per_event": pytest.approx(0.02),
    }
    with pytest.raises(ValueError, match="unknown metric 'speed'"):
        parse_metric_bounds(["speed=3%"], "--max-regression")
