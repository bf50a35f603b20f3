"""The paired-rounds ratio: Hodges-Lehmann point, signed-rank interval, odd rounds, symmetries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from veltrix_bench.analysis.paired import (
    MIN_ROUNDS,
    ONE_SIDED_95,
    ROUNDS_ONE_ODD_CANNOT_END,
    paired_ratio,
    too_few_rounds,
)

# Twelve rounds of a gate's p99 (ms) as the simulator draws them: rounds drift together by up to
# ~25%, the two sides of a round differ by a few per cent.
BASELINE = [11.2, 10.4, 12.9, 11.0, 10.1, 11.8, 12.2, 10.7, 11.5, 13.1, 10.9, 11.6]
WOBBLE = [1.03, 0.97, 1.01, 0.96, 1.04, 1.00, 0.98, 1.02, 0.99, 1.05, 0.985, 1.015]
ODD_ROUND = 3  # in this round one trial hit a long stall: its p99 came out 1.6 times as high


def _gate(ratio: float, odd_side: str | None) -> list[tuple[float, float]]:
    pairs = [(base, base * ratio * wobble) for base, wobble in zip(BASELINE, WOBBLE, strict=True)]
    base, cand = pairs[ODD_ROUND]
    if odd_side == "baseline":
        pairs[ODD_ROUND] = (base * 1.6, cand)
    elif odd_side == "candidate":
        pairs[ODD_ROUND] = (base, cand * 1.6)
    return pairs


@pytest.mark.parametrize("confidence", [0.95, ONE_SIDED_95])
@pytest.mark.parametrize("odd_side", ["baseline", "candidate"])
def test_a_quarter_slower_p99_is_called_despite_one_odd_round(
    odd_side: str, confidence: float
) -> None:
    """An odd baseline trial makes its round look faster (ratio 0.78): the harmful case."""
    found = paired_ratio(_gate(1.25, odd_side), confidence)
    assert found is not None
    assert found.ratio == pytest.approx(1.25, abs=0.02)
    assert found.low > 1.10  # wholly beyond a 10% bound: a regression


@pytest.mark.parametrize("confidence", [0.95, ONE_SIDED_95])
@pytest.mark.parametrize("odd_side", ["baseline", "candidate"])
def test_the_same_odd_round_in_an_aa_gate_is_not_called(odd_side: str, confidence: float) -> None:
    """An odd candidate trial makes its round look 1.6x slower: the harmful case."""
    found = paired_ratio(_gate(1.0, odd_side), confidence)
    assert found is not None
    assert found.ratio == pytest.approx(1.0, abs=0.02)
    assert found.low < 1.0 < found.high < 1.10


@pytest.mark.parametrize("confidence", [0.95, ONE_SIDED_95])
@pytest.mark.parametrize("rounds", range(MIN_ROUNDS, 21))
def test_from_enough_rounds_one_odd_round_cannot_end_the_interval(
    confidence: float, rounds: int
) -> None:
    """The odd round's Walsh averages (one with each round) all sit at one end; the interval
    leaves out as many from 12 rounds on at 95% (13 of 78), from 10 on at 90% (10 of 55). The
    odd round as extreme as can be: the candidate 100 times as fast in it."""
    pairs = [(10.0, 12.5 * w) for w in (WOBBLE * 2)[:rounds]]
    pairs[0] = (10.0, 0.125)
    found = paired_ratio(pairs, confidence)
    assert found is not None
    assert (found.low > 1.10) == (rounds >= ROUNDS_ONE_ODD_CANNOT_END[confidence])


@pytest.mark.parametrize(
    ("confidence", "rounds", "beyond"),
    [(0.95, 6, 0), (0.95, 7, 2), (0.95, 8, 3), (0.95, 9, 5), (0.95, 10, 8), (0.95, 12, 13),
     (0.95, 16, 29), (0.95, 20, 52),
     (ONE_SIDED_95, 6, 2), (ONE_SIDED_95, 8, 5), (ONE_SIDED_95, 10, 10), (ONE_SIDED_95, 12, 17),
     (ONE_SIDED_95, 15, 30)],
)  # fmt: skip
def test_the_interval_ends_are_the_tabled_walsh_averages(
    confidence: float, rounds: int, beyond: int
) -> None:
    """Critical values of the signed-rank statistic from Wilcoxon's tables (two-sided 5% and
    10%): the interval leaves out exactly that many Walsh averages at each end."""
    logs = np.random.default_rng(rounds).normal(0.0, 0.05, rounds)
    found = paired_ratio([(1.0, math.exp(x)) for x in logs], confidence)
    assert found is not None
    walsh = np.sort([(a + b) / 2 for i, a in enumerate(logs) for b in logs[i:]])
    assert math.log(found.low) == pytest.approx(walsh[beyond])
    assert math.log(found.high) == pytest.approx(walsh[len(walsh) - 1 - beyond])
    assert math.log(found.ratio) == pytest.approx(np.median(walsh))


SEEDS = range(12)


def _random_pairs(seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    rounds = int(rng.integers(MIN_ROUNDS, 16))
    base = 10 * np.exp(rng.normal(0, 0.15, rounds))
    return list(zip(base, base * np.exp(rng.normal(0.1, 0.08, rounds)), strict=True))


@pytest.mark.parametrize("seed", SEEDS)
def test_swapping_the_sides_inverts_the_ratio_and_its_interval(seed: int) -> None:
    pairs = _random_pairs(seed)
    forward = paired_ratio(pairs)
    backward = paired_ratio([(cand, base) for base, cand in pairs])
    assert forward is not None and backward is not None
    assert backward.ratio == pytest.approx(1 / forward.ratio)
    assert backward.low == pytest.approx(1 / forward.high)
    assert backward.high == pytest.approx(1 / forward.low)


@pytest.mark.parametrize("seed", SEEDS)
def test_units_and_a_round_running_slower_as_a_whole_change_nothing(seed: int) -> None:
    pairs = _random_pairs(seed)
    found = paired_ratio(pairs)
    factors = np.random.default_rng(seed + 100).uniform(0.5, 2.0, len(pairs))
    rescaled = paired_ratio(
        [(b * f * 1000, c * f * 1000) for (b, c), f in zip(pairs, factors, strict=True)]
    )
    assert found is not None and rescaled is not None
    for a, b in ((found.ratio, rescaled.ratio), (found.low, rescaled.low),
                 (found.high, rescaled.high)):  # fmt: skip
        assert a == pytest.approx(b)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_candidate_k_times_slower_scales_the_ratio_and_interval_by_k(seed: int) -> None:
    pairs = _random_pairs(seed)
    found = paired_ratio(pairs)
    slower = paired_ratio([(b, c * 1.3) for b, c in pairs])
    assert found is not None and slower is not None
    assert slower.ratio == pytest.approx(found.ratio * 1.3)
    assert (slower.low, slower.high) == pytest.approx((found.low * 1.3, found.high * 1.3))


def test_the_interval_covers_the_true_ratio_as_often_as_it_claims() -> None:
    """Exact for 12 rounds: 96.6% two-sided, and the 90% interval's lower end 96.1% one-sided
    (the signed-rank statistic is discrete, so the coverage is at least what was asked)."""
    rng = np.random.default_rng(7)
    covered = bounded = 0
    for _ in range(400):
        logs = rng.standard_t(4, 12) * 0.05 + math.log(1.1)  # heavy-tailed round noise
        pairs = [(1.0, math.exp(x)) for x in logs]
        found, one_sided = paired_ratio(pairs), paired_ratio(pairs, ONE_SIDED_95)
        assert found is not None and one_sided is not None
        covered += found.low <= 1.1 <= found.high
        bounded += one_sided.low <= 1.1
    assert 0.93 <= covered / 400 <= 0.99
    assert 0.93 <= bounded / 400 <= 0.99


def test_fewer_than_six_usable_rounds_give_no_interval_and_say_why() -> None:
    pairs = _gate(1.25, None)[:MIN_ROUNDS]
    assert paired_ratio(pairs) is not None and too_few_rounds(pairs) is None
    pairs[0] = (0.0, 12.0)  # a trial that measured nothing
    assert paired_ratio(pairs) is None
    assert too_few_rounds(pairs) == (
        "5 paired rounds with a positive value on both sides "
        "(at least 6 needed for a signed-rank interval)"
    )


def test_identical_rounds_give_a_point_interval() -> None:
    found = paired_ratio([(10.0, 12.0)] * 8)
    assert found is not None
    assert (found.ratio, found.low, found.high) == pytest.approx((1.2, 1.2, 1.2))
