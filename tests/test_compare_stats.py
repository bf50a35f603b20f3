"""Comparison statistics on fixed data: medians, ratio interval, verdicts, headline."""

from __future__ import annotations

import pytest

from tests.summaries import trial_of
from veltrix_bench.analysis.compare import (
    BETTER,
    METRICS,
    PAIRED,
    SAME,
    UNKNOWN,
    UNPAIRED,
    WORSE,
    compare_metric,
    compare_sides,
    headline,
    parse_metric_bounds,
    ratio_interval,
)
from veltrix_bench.analysis.metrics import paired_values
from veltrix_bench.analysis.paired import paired_ratio
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
ROUND_LEVELS = [10.0, 14.0, 8.0, 12.0, 9.0, 11.0, 13.0, 9.5]
WIGGLES = [1.02, 0.98, 1.01, 0.99, 1.0, 1.015, 0.985, 1.005]


def test_paired_rounds_take_out_what_a_whole_round_shares_and_call_a_30_percent_rise() -> None:
    baseline = list(ROUND_LEVELS)
    candidate = [v * 1.3 * w for v, w in zip(ROUND_LEVELS, WIGGLES, strict=True)]
    unpaired = compare_metric(METRICS["p99"], baseline, candidate, 0.10)
    pairs = list(zip(baseline, candidate, strict=True))
    row = compare_metric(METRICS["p99"], baseline, candidate, 0.10, pairs)
    assert unpaired.verdict == SAME and unpaired.method == UNPAIRED  # rounds' spread hides it
    assert row.verdict == WORSE and row.paired_rounds == 8 and row.method == PAIRED
    by_rounds = paired_ratio(pairs)  # the Hodges-Lehmann point and its signed-rank interval
    assert by_rounds is not None
    assert (row.ratio, row.ci_low, row.ci_high) == (by_rounds.ratio, by_rounds.low, by_rounds.high)
    assert row.ci_low is not None and 1.25 < row.ci_low <= 1.3 <= row.ci_high < 1.35
    assert row.pairs == pairs and row.confidence == 0.95


def test_the_interval_is_asked_at_the_confidence_given() -> None:
    pairs = [(v, v * 1.3 * w) for v, w in zip(ROUND_LEVELS, WIGGLES, strict=True)]
    baseline, candidate = [b for b, _ in pairs], [c for _, c in pairs]
    row = compare_metric(METRICS["p99"], baseline, candidate, 0.10, pairs, confidence=0.90)
    narrower = paired_ratio(pairs, 0.90)
    assert narrower is not None and row.confidence == 0.90
    assert (row.ci_low, row.ci_high) == (narrower.low, narrower.high)
    wider = compare_metric(METRICS["p99"], baseline, candidate, 0.10, pairs)
    assert wider.ci_low is not None and row.ci_low is not None and wider.ci_low < row.ci_low


def test_paired_rounds_of_the_same_config_call_nothing() -> None:
    baseline = list(ROUND_LEVELS)
    wobble = [1.03, 0.97, 1.02, 0.99, 1.01, 0.98, 1.0, 1.02]
    candidate = [v * w for v, w in zip(ROUND_LEVELS, wobble, strict=True)]
    row = compare_metric(
        METRICS["p99"], baseline, candidate, 0.05, list(zip(baseline, candidate, strict=True))
    )
    assert row.verdict == SAME and row.method == PAIRED
    assert row.ci_low is not None and row.ci_high is not None and row.ci_low < 1 < row.ci_high


def test_values_pair_by_round_and_skip_rounds_one_side_lost() -> None:
    baseline = [_round(v, i) for i, v in enumerate([10.0, 11.0, 12.0])]
    candidate = [_round(v, i) for i, v in ((0, 13.0), (2, 15.0))]  # round 1 failed
    assert paired_values(baseline, candidate, METRICS["p99"]) == [(10.0, 13.0), (12.0, 15.0)]
    finished_runs = [trial_of({"latency_ms": {"p99": 10.0}, "profiled": False})]
    assert paired_values(finished_runs, candidate, METRICS["p99"]) is None


def test_too_few_paired_rounds_fall_back_to_the_unpaired_interval() -> None:
    baseline, candidate = ROUND_LEVELS[:5], [v * 1.3 for v in ROUND_LEVELS[:5]]
    pairs = list(zip(baseline, candidate, strict=True))  # one round short of a paired interval
    row = compare_metric(METRICS["p99"], baseline, candidate, 0.05, pairs)
    assert row.paired_rounds == 0 and row.method == UNPAIRED and row.pairs == pairs
    assert row.ratio == pytest.approx(1.3)  # of the medians
    assert (row.ci_low, row.ci_high) == ratio_interval(baseline, candidate)


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
