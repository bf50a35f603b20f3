"""Simulated power of p99 regression gates: false alarms and catches per statistic and design.

Pure computation, no engine: it draws each trial's request latencies from a model of `tuned`
on smoke-like load, runs the interleaved rounds of a gate (A B, B A, ...), and counts how often
each statistic calls a regression when there is none (A/A) and when p99 is 1.10x or 1.25x.

The model (every figure is a knob below; the defaults are calibrated on the quiet-machine
results of `gate_power.py` and `compare_aa.py`, see `--calibrate`):
- a request's latency is a body (a floor plus a lognormal: the batch wait and the work) plus,
  when it arrives during a stall of the event loop, the rest of the stall (stalls come at
  random times, lognormal lengths: WAL checkpoints, collections, the OS);
- each trial's latencies are scaled by the round's drift (shared by both trials of a round) and
  by noise of the trial alone (a fresh engine process each time); odd events come at random
  times, about one per 125 s of load: a long stall (like the 8 requests at 20-49 ms of
  `checkpoint_spike.md`) or a slow phase of a second and a half;
- the regression adds a delay to every request, the same for the whole gate up to a spread per
  gate and per trial (the 3 ms delay's measured ratios varied more than the A/A ones);
- a trial costs its window, its warm-up and an overhead (engine and generator start, drain,
  reports: ~3.8 s per trial measured, 141 s for 16 trials of 5 s).
The three MODELS fit those figures equally well with the noise in different places (the p99's
own sampling noise, a floor per trial, stalls in time); SENSITIVITY varies the first one.

    nice python benchmarks/gate_power_sim.py --calibrate          # the smoke figures it mimics
    nice python benchmarks/gate_power_sim.py                      # statistics x designs x models
    nice python benchmarks/gate_power_sim.py --sensitivity --designs 1000x3x12
    nice python benchmarks/gate_power_sim.py --hlogs DIR          # real trials: what to calibrate

The defaults take ~6 minutes of one core. The figures it prints are simulated: they rank
statistics and designs under stated assumptions; the gate's real figures come from
`gate_power.py` on a quiet machine.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy import stats

from veltrix_bench.analysis import paired

TAIL_KEPT = 0.03  # each trial keeps its slowest 3% of requests: every estimator looks no deeper
BODY_DRAWN = 0.045  # untouched requests drawn only above the body's 95.5th percentile


@dataclass(frozen=True)
class LatencyModel:
    """Milliseconds and seconds; log-scale spreads are standard deviations of natural logs."""

    body_floor_ms: float = 4.0
    body_median_ms: float = 2.5  # of the part above the floor
    body_sigma: float = 0.45
    stall_rate_per_s: float = 0.6
    stall_median_ms: float = 4.0
    stall_sigma: float = 0.6
    round_drift: float = 0.12  # README: per-trial p99 varied ~13% between rounds
    trial_noise: float = 0.03  # of one trial alone: not shared with the other side of its round
    second_in_round: float = 0.0  # log-scale penalty of the trial that runs second in a round
    start_stall_factor: float = 1.0  # stall rate in the first second of a trial's load, times
    odd_rate_per_s: float = 0.008  # odd events per second of load (one in 25 five-second trials)
    odd_stall_ms: tuple[float, float] = (25.0, 60.0)
    odd_slow_factor: float = 1.3
    odd_slow_s: float = 1.5
    side_anomaly_chance: float = 0.0  # a gate in which one side runs slower in every round
    side_anomaly: float = 0.10  # ... by this much (log): seen once in compare_aa.md (1.124)
    effect_spread_gate: float = 0.10  # of the regression's delay between gates
    effect_spread_trial: float = 0.20  # ... and between trials of one gate

    def population_p99(self, seed: int = 1) -> float:
        """p99 of a long quiet run (no drift, no odd trials): what a regression is a ratio of."""
        rng = np.random.default_rng(seed)
        quiet = replace(self, round_drift=0.0, trial_noise=0.0, odd_rate_per_s=0.0)
        tails = [quiet.trial(rng, 1000.0, 60.0, 0.0, 1.0, 0.0, False)[0] for _ in range(4)]
        whole = np.sort(np.concatenate(tails))[::-1]
        return float(whole[int(0.01 * 4 * 60_000) - 1])

    def trial(
        self,
        rng: np.random.Generator,
        rate: float,
        window_s: float,
        warmup_s: float,
        scale: float,
        delay_ms: float,
        second: bool,
    ) -> tuple[np.ndarray, int]:
        """The slowest TAIL_KEPT of one trial's window (sorted, slowest first), and its count.

        Only the slow end is drawn: requests a stall or a slow phase touched in full, the others
        as the number of them above the body's 1 - BODY_DRAWN quantile and their values there
        (the same distribution as drawing every request and keeping the slowest)."""
        n = int(round(rate * window_s))
        span = warmup_s + window_s
        begin = [rng.uniform(0, span, rng.poisson(self.stall_rate_per_s * span))]
        if self.start_stall_factor > 1:
            extra = (self.start_stall_factor - 1) * self.stall_rate_per_s
            begin.append(rng.uniform(0, 1.0, rng.poisson(extra)))
        starts = np.concatenate(begin)
        lengths = self.stall_median_ms * np.exp(self.stall_sigma * rng.standard_normal(len(starts)))
        slow_from = slow_to = 0.0
        for _ in range(rng.poisson(self.odd_rate_per_s * span)):
            if rng.random() < 0.5:
                starts = np.append(starts, rng.uniform(0, span))
                lengths = np.append(lengths, rng.uniform(*self.odd_stall_ms))
            else:
                slow_from = rng.uniform(-self.odd_slow_s, span)
                slow_to = slow_from + self.odd_slow_s

        def index(t: float) -> int:  # first request of the window arriving at or after t
            return int(np.clip(np.ceil((t - warmup_s) * rate - 0.5), 0, n))

        touched = [np.arange(index(slow_from), index(slow_to))]
        touched += [
            np.arange(index(t0), index(t0 + ms / 1000))
            for t0, ms in zip(starts, lengths, strict=True)
        ]
        hit = np.unique(np.concatenate(touched)).astype(int)
        arrival_ms = (warmup_s + (hit + 0.5) / rate) * 1000
        latency = self.body_floor_ms + self.body_median_ms * np.exp(
            self.body_sigma * rng.standard_normal(len(hit))
        )
        latency[(arrival_ms >= slow_from * 1000) & (arrival_ms < slow_to * 1000)] *= (
            self.odd_slow_factor
        )
        for t0, ms in zip(starts * 1000, lengths, strict=True):
            inside = (arrival_ms >= t0) & (arrival_ms < t0 + ms)
            latency[inside] += t0 + ms - arrival_ms[inside]
        untouched_slow = rng.binomial(n - len(hit), BODY_DRAWN)
        z = stats.norm.isf(BODY_DRAWN * rng.random(untouched_slow))
        body = self.body_floor_ms + self.body_median_ms * np.exp(self.body_sigma * z)
        if second:
            scale *= math.exp(self.second_in_round)
        latency = np.concatenate([latency, body]) * scale + delay_ms
        kept = min(max(int(TAIL_KEPT * n), 1), len(latency))
        return np.sort(np.partition(latency, len(latency) - kept)[len(latency) - kept :])[::-1], n


@dataclass(frozen=True)
class Design:
    rate: float = 200.0
    window_s: float = 5.0
    warmup_s: float = 0.0  # load before the window, recorded but left out of the statistics
    rounds: int = 8
    overhead_s: float = 3.8  # per trial: measured 141 s for 16 trials of 5 s

    @property
    def wall_s(self) -> float:
        return 2 * self.rounds * (self.window_s + self.warmup_s + self.overhead_s)

    def label(self) -> str:
        warm = f" +{self.warmup_s:g}s warm-up" if self.warmup_s else ""
        return (f"{self.rate:g}/s x {self.window_s:g}s{warm}, {self.rounds} rounds, "
                f"{self.overhead_s:g} s overhead per trial")  # fmt: skip


@dataclass(frozen=True)
class Gate:
    """One simulated gate: per round, each side's slowest requests and its request count."""

    baseline: list[np.ndarray]
    candidate: list[np.ndarray]
    counts: list[int]

    def p99s(self, side: list[np.ndarray]) -> np.ndarray:
        return np.asarray(
            [tail[_rank_from_top(n)] for tail, n in zip(side, self.counts, strict=True)]
        )


def _rank_from_top(n: int) -> int:
    """Index, slowest first, of HdrHistogram's p99 of n values: the int(0.99 n + 0.5)-th least."""
    return n - max(int(0.99 * n + 0.5), 1)


def simulate_gate(
    model: LatencyModel, design: Design, delay_ms: float, rng: np.random.Generator
) -> Gate:
    gate_delay = delay_ms * math.exp(model.effect_spread_gate * rng.standard_normal())
    slower = {"A": 1.0, "B": 1.0}
    if rng.random() < model.side_anomaly_chance:
        slower[str(rng.choice(["A", "B"]))] = math.exp(model.side_anomaly)
    sides: dict[str, list[np.ndarray]] = {"A": [], "B": []}
    counts = []
    for number in range(design.rounds):
        drift = math.exp(model.round_drift * rng.standard_normal())
        order = ("A", "B") if number % 2 == 0 else ("B", "A")
        for position, side in enumerate(order):
            scale = drift * slower[side] * math.exp(model.trial_noise * rng.standard_normal())
            delay = 0.0
            if side == "B" and gate_delay:
                delay = gate_delay * math.exp(model.effect_spread_trial * rng.standard_normal())
            tail, n = model.trial(
                rng, design.rate, design.window_s, design.warmup_s, scale, delay, position == 1
            )
            sides[side].append(tail)
        counts.append(n)
    return Gate(sides["A"], sides["B"], counts)


# --- statistics under test: each returns (ratio, low, high) or None -------------------------

Interval = tuple[float, float, float] | None


def median_bootstrap(gate: Gate) -> Interval:
    """Today's: median of per-round p99 ratios, 95% percentile bootstrap over rounds."""
    ratios = gate.p99s(gate.candidate) / gate.p99s(gate.baseline)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            (ratios,), np.median, n_resamples=4000, confidence_level=0.95,
            method="percentile", vectorized=True, random_state=np.random.default_rng(0),
        )  # fmt: skip
    low, high = result.confidence_interval
    return float(np.median(ratios)), float(low), float(high)


def mean_t(gate: Gate) -> Interval:
    """Mean of per-round log ratios with Student's t interval (efficient, not robust)."""
    logs = np.log(gate.p99s(gate.candidate) / gate.p99s(gate.baseline))
    ci = stats.ttest_1samp(logs, 0.0).confidence_interval(0.95)
    return math.exp(logs.mean()), math.exp(ci.low), math.exp(ci.high)


def hodges_lehmann(gate: Gate, confidence: float = 0.95) -> Interval:
    """Hodges-Lehmann of per-round log ratios, Wilcoxon signed-rank interval (analysis/paired)."""
    pairs = list(zip(gate.p99s(gate.baseline), gate.p99s(gate.candidate), strict=True))
    found = paired.paired_ratio(pairs, confidence)
    return None if found is None else (found.ratio, found.low, found.high)


def crossover_one_sided(gate: Gate) -> Interval:
    """Crossover Hodges-Lehmann, one-sided 95% bound: whatever running second in a round does is
    taken out (Koch, 1972). Rounds alternate A B, B A; if the second trial runs slower, that adds
    to the log ratios of the rounds where the candidate ran second and takes from the others, so
    the mean of one round of each order cancels it: the estimate is the median of such means, the
    interval the exact rank-sum interval of the shift between the two orders' log ratios, halved.
    """
    logs = np.log(gate.p99s(gate.candidate) / gate.p99s(gate.baseline))
    later, earlier = logs[0::2], -logs[1::2]  # round 1 runs A B: the candidate second
    if min(len(later), len(earlier)) < 4:  # 3 and 3: the smallest two-sided p-value is 0.1
        return None
    differences = later[:, None] - earlier[None, :]  # twice the effect, the order's part gone
    shifts = np.unique(differences)
    between = (shifts[:-1] + shifts[1:]) / 2
    p_values = stats.mannwhitneyu(
        later[None, :] - between[:, None], earlier[None, :], axis=1, method="auto"
    ).pvalue
    kept = np.flatnonzero(p_values > 1 - paired.ONE_SIDED_95)
    low, high = shifts[kept[0]] / 2, shifts[kept[-1] + 1] / 2
    return math.exp(np.median(differences) / 2), math.exp(low), math.exp(high)


def hodges_lehmann_one_sided(gate: Gate) -> Interval:
    """The same, its lower end a one-sided 95% bound (the two-sided 90% interval's)."""
    return hodges_lehmann(gate, 0.90)


def _pooled_p99(tails: list[np.ndarray], counts: list[int], weights: np.ndarray) -> np.ndarray:
    """p99 of the side's trials merged, each trial counted `weights[b, r]` times (B x R)."""
    values = np.concatenate(tails)
    owner = np.concatenate([np.full(len(t), r) for r, t in enumerate(tails)])
    order = np.argsort(values)[::-1]
    values, owner = values[order], owner[order]
    total = weights @ np.asarray(counts, float)
    beyond = total - np.maximum(np.floor(0.99 * total + 0.5), 1)  # requests above the p99
    cumulative = np.cumsum(weights[:, owner], axis=1)
    index = np.minimum((cumulative <= beyond[:, None]).sum(axis=1), len(values) - 1)
    return values[index]


def sign_median(gate: Gate) -> Interval:
    """Median of per-round log ratios with the sign test's order-statistic interval."""
    logs = np.log(gate.p99s(gate.candidate) / gate.p99s(gate.baseline))
    ci = stats.quantile_test(logs, q=0.0, p=0.5).confidence_interval(0.95)
    return math.exp(np.median(logs)), math.exp(ci.low), math.exp(ci.high)


def pooled_bca(gate: Gate, resamples: int = 1000) -> Interval:
    """p99 of each side's trials merged; BCa bootstrap over whole rounds (scipy)."""
    rounds = len(gate.counts)

    def statistic(picks: np.ndarray, axis: int = -1) -> np.ndarray:
        flat = np.moveaxis(picks, axis, -1).reshape(-1, picks.shape[axis])
        weights = np.zeros((len(flat), rounds))
        np.add.at(weights, (np.repeat(np.arange(len(flat)), flat.shape[1]), flat.ravel()), 1.0)
        ratio = _pooled_p99(gate.candidate, gate.counts, weights) / _pooled_p99(
            gate.baseline, gate.counts, weights
        )
        return np.log(ratio).reshape(np.moveaxis(picks, axis, -1).shape[:-1])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            (np.arange(rounds),), statistic, n_resamples=resamples, confidence_level=0.95,
            method="BCa", vectorized=True, random_state=np.random.default_rng(0),
        )  # fmt: skip
    low, high = result.confidence_interval
    point = float(statistic(np.arange(rounds)[None, :])[0])
    return math.exp(point), math.exp(low), math.exp(high)


def pooled_bootstrap(gate: Gate, resamples: int = 1000) -> Interval:
    """p99 of each side's trials merged; percentile bootstrap over whole rounds (pairs kept)."""
    rounds = len(gate.counts)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, rounds, (resamples, rounds))
    weights = np.zeros((resamples + 1, rounds))
    weights[0] = 1.0
    np.add.at(weights, (np.repeat(np.arange(1, resamples + 1), rounds), picks.ravel()), 1.0)
    base = _pooled_p99(gate.baseline, gate.counts, weights)
    cand = _pooled_p99(gate.candidate, gate.counts, weights)
    ratio = cand / base
    low, high = np.percentile(ratio[1:], [2.5, 97.5])
    return float(ratio[0]), float(low), float(high)


def hierarchical_bootstrap(gate: Gate, resamples: int = 1000) -> Interval:
    """Rounds resampled, then each chosen trial's requests (Poisson weights); median of ratios."""
    rng = np.random.default_rng(0)
    rounds = len(gate.counts)
    per_trial = []
    for side in (gate.baseline, gate.candidate):
        found = np.empty((rounds, resamples))
        for r, (tail, n) in enumerate(zip(side, gate.counts, strict=True)):
            weights = rng.poisson(1.0, (resamples, len(tail)))
            beyond = _rank_from_top(n)
            index = np.minimum((np.cumsum(weights, axis=1) <= beyond).sum(axis=1), len(tail) - 1)
            found[r] = tail[index]
        per_trial.append(found)
    picks = rng.integers(0, rounds, (resamples, rounds))
    columns = np.arange(resamples)[:, None]
    logs = np.log(per_trial[1][picks, columns] / per_trial[0][picks, columns])
    low, high = np.exp(np.percentile(np.median(logs, axis=1), [2.5, 97.5]))
    point = float(np.median(gate.p99s(gate.candidate) / gate.p99s(gate.baseline)))
    return point, float(low), float(high)


STATISTICS: dict[str, Callable[[Gate], Interval]] = {
    "median + bootstrap (today)": median_bootstrap,
    "mean + t": mean_t,
    "Hodges-Lehmann + signed-rank": hodges_lehmann,
    "HL, one-sided 95% bound": hodges_lehmann_one_sided,
    "crossover HL, one-sided 95% bound": crossover_one_sided,
    "median + sign-test interval": sign_median,
    "pooled p99 + round bootstrap": pooled_bootstrap,
    "pooled p99 + BCa": pooled_bca,
    "hierarchical bootstrap": hierarchical_bootstrap,
}
CHEAP = ("median + bootstrap (today)", "mean + t", "Hodges-Lehmann + signed-rank",
         "HL, one-sided 95% bound", "crossover HL, one-sided 95% bound",
         "median + sign-test interval")  # fmt: skip


# --- experiments -----------------------------------------------------------------------------


@dataclass
class Tally:
    called: int = 0
    gates: int = 0
    widths: list[float] = field(default_factory=list)

    def add(self, found: Interval, bound: float) -> None:
        self.gates += 1  # no interval (too few rounds) counts as not called
        if found is not None:
            _, low, high = found
            self.widths.append(high - low)
            self.called += low > 1 + bound


CASES = (("A/A, above 1", 1.0, 0.0), ("A/A, 5% bound", 1.0, 0.05),
         ("1.10x, 5% bound", 1.10, 0.05), ("1.25x, 10% bound", 1.25, 0.10))  # fmt: skip
"""(case, true p99 ratio, allowed rise). "A/A, above 1" counts intervals wholly above 1 with
nothing changed: a 95% interval should do that in 2.5% of gates, so it shows the real coverage."""


def run_cases(
    model: LatencyModel, design: Design, names: list[str], gates: int, seed: int
) -> dict[tuple[str, str], Tally]:
    """Every statistic on the same simulated gates, for each case."""
    p99 = model.population_p99()
    tallies = {(name, case): Tally() for name in names for case, _, _ in CASES}
    rng = np.random.default_rng(seed)
    for ratio in sorted({ratio for _, ratio, _ in CASES}):
        for _ in range(gates):
            gate = simulate_gate(model, design, (ratio - 1) * p99, rng)
            for name in names:
                found = STATISTICS[name](gate)
                for case, case_ratio, bound in CASES:
                    if case_ratio == ratio:
                        tallies[(name, case)].add(found, bound)
    return tallies


def print_table(
    title: str, design: Design, tallies: dict[tuple[str, str], Tally], names: list[str]
) -> None:
    print(f"\n{title}, {design.label()}: ~{design.wall_s:.0f} s per gate\n")
    print("| statistic | " + " | ".join(case for case, _, _ in CASES) + " | A/A median CI width |")
    print("|---|" + "---:|" * (len(CASES) + 1))
    for name in names:
        cells = [f"{tallies[(name, case)].called / tallies[(name, case)].gates:.1%}"
                 for case, _, _ in CASES]  # fmt: skip
        widths = tallies[(name, CASES[0][0])].widths or [float("nan")]
        print(f"| {name} | " + " | ".join(cells) + f" | {np.median(widths):.3f} |", flush=True)


def calibrate(model: LatencyModel, gates: int, seed: int) -> None:
    """The measured smoke figures next to the model's, with today's statistic."""
    rng = np.random.default_rng(seed)
    print(f"population p99 {model.population_p99():.2f} ms (measured: ~11 ms)")
    rows = (
        (8, 0.0, "gate_power.md A/A, 8 rounds: medians' sd 0.027, CI widths 0.08-0.18 "
                 "(median 0.12), 0 of 10 called at 10%"),
        (8, 3.0, "gate_power.md 3 ms, 8 rounds: median 1.27, sd 0.053, CI widths 0.12-0.30 "
                 "(median 0.18), 9 of 10 called at 10%"),
        (5, 0.0, "compare_aa.md A/A, 5 rounds: medians' sd 0.021 (0.043 with rep 10's 1.124), "
                 "CI widths 0.08-0.21 (median 0.15)"),
    )  # fmt: skip
    for rounds, delay_ms, measured in rows:
        design = Design(rounds=rounds)
        found = [
            median_bootstrap(simulate_gate(model, design, delay_ms, rng)) for _ in range(gates)
        ]
        ratios = np.asarray([f[0] for f in found if f])
        widths = np.asarray([f[2] - f[1] for f in found if f])
        called = np.mean([f[1] > 1.10 for f in found if f])
        print(f"\nmeasured:  {measured}\nsimulated: median {np.median(ratios):.3f}, sd "
              f"{np.std(ratios):.3f}, CI widths {np.percentile(widths, 10):.2f}-"
              f"{np.percentile(widths, 90):.2f} (10-90%, median {np.median(widths):.3f}), "
              f"called at 10% {called:.0%}")  # fmt: skip


def describe_hlogs(directory: Path) -> None:
    """What to calibrate from real trials: p99 by second of the window, spread across trials."""
    from hdrh.log import HistogramLogReader

    from veltrix_bench.analysis.histograms import merged_log
    from veltrix_bench.hdr import new_histogram, values_at_percentiles

    paths = sorted(directory.rglob("latency.hlog"))
    if not paths:
        raise SystemExit(f"no latency.hlog under {directory}")
    by_second: dict[int, list[float]] = {}
    print(f"{len(paths)} trials: requests, p50 and p99 (ms)")
    p99s = []
    for path in paths:
        reader = HistogramLogReader(str(path), new_histogram())
        second = 0
        while (interval := reader.get_next_interval_histogram()) is not None:
            if interval.get_total_count():
                by_second.setdefault(second, []).append(
                    values_at_percentiles(interval, (99,))[0] / 1000
                )
            second += 1
        reader.close()
        merged = merged_log(path)
        p50, p99 = (v / 1000 for v in values_at_percentiles(merged, (50, 99)))
        p99s.append(p99)
        print(f"  {path.parent.name}: {merged.get_total_count():>6}  {p50:6.2f}  {p99:6.2f}")
    print(f"sd of log p99 across trials: {np.std(np.log(p99s)):.3f}")
    print("p99 by second of the window, median over trials (a first second well above the "
          "others says the warm-up belongs outside the window):")  # fmt: skip
    for second, found in sorted(by_second.items()):
        print(f"  second {second + 1}: {np.median(found):6.2f} ms ({len(found)} trials)")


MODELS = {
    # Each matches the smoke figures (--calibrate) with the noise in a different place.
    "sampling": LatencyModel(),  # much of it the p99's own sampling noise: more requests help
    "trial floor": LatencyModel(trial_noise=0.042, body_sigma=0.35, body_median_ms=3.1),
    "stalls": LatencyModel(
        trial_noise=0.0,
        body_sigma=0.36,
        body_median_ms=2.7,
        stall_rate_per_s=1.2,
        stall_median_ms=6.0,
        stall_sigma=0.6,
    ),  # the tail made by stalls in time: more requests per second do not help
}
SENSITIVITY = {
    "the second trial of a round 3% slower": {"second_in_round": 0.03},
    "a cold first second (4x the stalls)": {"start_stall_factor": 4.0},
    "odd events 3x as often": {"odd_rate_per_s": 0.024},
    "one side 10% slower in 1 gate of 15": {"side_anomaly_chance": 1 / 15},
}


def parse_design(text: str) -> Design:
    """'1000x4+1x12' -> 1000/s, a 4 s window after 1 s of warm-up, 12 rounds; '...@2' -> 2 s of
    overhead per trial instead of the measured 3.8 s."""
    shape, _, overhead = text.partition("@")
    rate, window, rounds = shape.split("x")
    window_s, _, warmup_s = window.partition("+")
    design = Design(float(rate), float(window_s), float(warmup_s or 0), int(rounds))
    return replace(design, overhead_s=float(overhead)) if overhead else design


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", type=int, default=400, help="simulated gates per case")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calibrate", action="store_true", help="the smoke figures it mimics")
    parser.add_argument("--hlogs", type=Path, help="describe real trials' latency.hlog files")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--sensitivity", action="store_true", help="the first model, varied")
    parser.add_argument(
        "--designs", nargs="*", default=["200x5x8", "1000x5x8", "1000x4x10", "1000x2+1x12",
                                         "1000x3x12", "2000x2x14", "1000x3x16@2"],
        help="RATExWINDOW[+WARMUP]xROUNDS[@OVERHEAD]: 200x5x8 is today's smoke gate",
    )  # fmt: skip
    parser.add_argument("--statistics", nargs="*", default=list(CHEAP), choices=list(STATISTICS))
    args = parser.parse_args()
    if args.hlogs:
        describe_hlogs(args.hlogs)
        return
    if args.calibrate:
        for name in args.models:
            print(f"\n## model '{name}'")
            calibrate(MODELS[name], args.gates, args.seed)
        return
    runs = [(f"model '{name}'", MODELS[name]) for name in args.models]
    if args.sensitivity:
        first = MODELS[args.models[0]]
        runs = [(f"'{args.models[0]}', {label}", replace(first, **change))  # type: ignore[arg-type]
                for label, change in SENSITIVITY.items()]  # fmt: skip
    for title, model in runs:
        for text in args.designs:
            began = time.process_time()
            design = parse_design(text)
            print_table(title, design, run_cases(model, design, args.statistics, args.gates,
                                                 args.seed), args.statistics)  # fmt: skip
            print(f"({time.process_time() - began:.0f} s of CPU)", flush=True)


if __name__ == "__main__":
    main()
