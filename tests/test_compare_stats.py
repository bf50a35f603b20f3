"""Comparison statistics on fixed data: medians, ratio interval, verdicts, headline."""

from __future__ import annotations

import pytest

from tests.summaries import trial_of
from veltrix_bench.analysis.compare import (
    BETTER,
    METRICS,
    SAME,
    UNKNOWN,
    WORSE,
    compare_metric,
    compare_sides,
    headline,
    parse_metric_bounds,
    ratio_interval,
)
from veltrix_bench.analysis.metrics import paired_values
from veltrix_bench.models.summary import Trial

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


def _round(value: float, index: int) -> Trial:
    return trial_of({"latency_ms": {"p99": value}, "profiled": False}, ((), index))


# whole rounds run slower or faster together, as on a shared machine
ROUND_LEVELS = [10.0, 14.0, 8.0, 12.0, 9.0]


def test_paired_rounds_take_out_what_a_whole_round_shares_and_call_a_30_percent_rise() -> None:
    baseline = list(ROUND_LEVELS)
    wiggles = [1.02, 0.98, 1.01, 0.99, 1.0]
    candidate = [v * 1.3 * w for v, w in zip(ROUND_LEVELS, wiggles, strict=True)]
    unpaired = compare_metric(METRICS["p99"], baseline, candidate, 0.10)
    pairs = list(zip(baseline, candidate, strict=True))
    paired = compare_metric(METRICS["p99"], baseline, candidate, 0.10, pairs)
    assert unpaired.verdict == SAME  # round-to-round spread hides it
    assert paired.verdict == WORSE and paired.paired_rounds == 5
    assert paired.ci_low is not None and 1.25 < paired.ci_low <= 1.3 <= paired.ci_high < 1.35


def test_paired_rounds_of_the_same_config_call_nothing() -> None:
    baseline = list(ROUND_LEVELS)
    candidate = [v * w for v, w in zip(ROUND_LEVELS, [1.03, 0.97, 1.02, 0.99, 1.01], strict=True)]
    row = compare_metric(
        METRICS["p99"], baseline, candidate, 0.05, list(zip(baseline, candidate, strict=True))
    )
    assert row.verdict == SAME and row.ci_low is not None and row.ci_low < 1 < row.ci_high


def test_values_pair_by_round_and_skip_rounds_one_side_lost() -> None:
    baseline = [_round(v, i) for i, v in enumerate([10.0, 11.0, 12.0])]
    candidate = [_round(v, i) for i, v in ((0, 13.0), (2, 15.0))]  # round 1 failed
    assert paired_values(baseline, candidate, METRICS["p99"]) == [(10.0, 13.0), (12.0, 15.0)]
    finished_runs = [trial_of({"latency_ms": {"p99": 10.0}, "profiled": False})]
    assert paired_values(finished_runs, candidate, METRICS["p99"]) is None


def test_too_few_paired_rounds_fall_back_to_the_unpaired_interval() -> None:
    row = compare_metric(METRICS["p99"], [10.0, 11.0], [13.0, 14.0], 0.05, [(10.0, 13.0)])
    assert row.paired_rounds == 0 and row.ratio == pytest.approx(13.5 / 10.5)


def test_each_round_rotates_which_side_runs_first() -> None:
    from veltrix_bench.run.trials import round_order

    assert [round_order(["A", "B"], r) for r in range(3)] == [["A", "B"], ["B", "A"], ["A", "B"]]
    assert round_order(["A", "B", "C"], 1) == ["B", "C", "A"]


def test_a_percentile_with_too_few_requests_beyond_it_is_not_judged() -> None:
    def trial(p999: float, total: int) -> Trial:
        figures = {"latency_ms": {"p999": p999}, "requests": {"total": total}, "profiled": False}
        return trial_of(figures)

    short = [trial(v, 1000) for v in (10.0, 11.0, 12.0)]
    slower = [trial(v, 1000) for v in (20.0, 22.0, 24.0)]
    row = compare_sides(short, slower, metrics=("p999",))[0]
    assert row.verdict == UNKNOWN and row.ratio == pytest.approx(2.0)
    longer = [trial(v, 20_000) for v in (10.0, 11.0, 12.0)]
    slower_longer = [trial(v, 20_000) for v in (20.0, 22.0, 24.0)]
    assert compare_sides(longer, slower_longer, metrics=("p999",))[0].verdict == WORSE
