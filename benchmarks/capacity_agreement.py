"""`engine_capacity --agreement`: vbench capacity's answers beside the independent client's.

Runs `vbench capacity PRESET ... --slo 'p99 < 50ms'` as a child process, the way a user does,
then the independent open-loop client's own capacity search under the same rule and the same
traffic (the `steady` scenario's players and world: joins in the run, reads among the
events) — vbench's `analysis.capacity.CapacitySearch` (pure: growth, bisection to the
resolution), majorities of trials decided early, presets interleaved with the first
rotating — over the same step and warm-up, each trial on a fresh engine
(`trial.measure_undisturbed`). Prints each preset's two answers and their ratio (target:
within 15%), and the wall time of vbench's search (target:
at most 10 minutes for default and tuned with the defaults).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import msgspec

from benchmarks._openloop import ClientKind
from benchmarks.harness import printed_path, run_vbench
from benchmarks.trial import P99_LIMIT_MS, Measurement, Step, measure_undisturbed, print_step
from veltrix_bench.analysis.capacity import (
    GROWTH,
    RESOLUTION,
    CapacitySearch,
    TrialVerdict,
    Verdict,
    step_verdict,
)
from veltrix_bench.engine.config import EngineConfig
from veltrix_bench.models.capacity import CapacityResult
from veltrix_bench.run.trials import round_order
from veltrix_bench.rundir import read_capacity

AGREEMENT = 0.15
"""The two answers agree when their ratio is within this of 1."""
WALL_TARGET_S = 600.0
GENERATOR_LATE_SHARE = 0.01
"""A yardstick trial whose client sent more than this share late was limited by the client
(vbench's rule for its own generator: analysis.summary.SATURATION_LATE_SHARE)."""


@dataclass(frozen=True)
class SearchPlan:
    presets: list[str]
    configs: dict[str, EngineConfig]
    start: float
    max_rate: float | None
    step_s: float
    warmup_s: float
    trials: int
    retries: int
    client: ClientKind
    scenario: str
    """Both clients play this scenario's players (the yardstick through trial.PlayerTraffic)."""


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """One search's answer for one preset."""

    capacity: float | None
    lower_bound: bool
    limit: str | None
    steps: list[tuple[float, str]]  # (rate, verdict), in the order run


class AgreementRow(msgspec.Struct, frozen=True, kw_only=True):
    preset: str
    vbench: Answer
    yardstick: Answer
    ratio: float | None  # vbench / yardstick
    agrees: bool


class AgreementReport(msgspec.Struct, frozen=True, kw_only=True):
    schema: str = "vbench.capacity_agreement/1"
    started_at: str
    step_s: float
    warmup_s: float
    trials: int
    start: float
    vbench_dir: str
    vbench_wall_s: float
    yardstick_wall_s: float
    rows: list[AgreementRow]
    yardstick_runs: list[Measurement]


def vbench_search(plan: SearchPlan, out: Path) -> tuple[CapacityResult, str, float]:
    """`vbench capacity` on the presets: (its result, its directory, its wall time in s)."""
    args = [
        "capacity", *plan.presets, "--scenario", plan.scenario,
        "--slo", f"p99 < {P99_LIMIT_MS:g}ms", "--start",
        f"{plan.start:g}", "--step", f"{plan.step_s:g}s", "--warmup", f"{plan.warmup_s:g}s",
        "--trials", str(plan.trials), "--out", str(out),
    ]  # fmt: skip
    if plan.max_rate is not None:
        args += ["--max-rate", f"{plan.max_rate:g}"]
    started = time.monotonic()
    done = run_vbench(*args)
    wall_s = time.monotonic() - started
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        raise RuntimeError(f"vbench capacity failed ({done.returncode}):\n{done.stderr[-2000:]}")
    folder = printed_path(done)
    return read_capacity(folder), str(folder), wall_s


def _trial_verdict(m: Measurement) -> TrialVerdict:
    load = m.load
    if load.scheduled and load.late_generator > GENERATOR_LATE_SHARE * load.scheduled:
        return TrialVerdict(Verdict.GENERATOR)
    return TrialVerdict(Verdict.PASS if m.passed else Verdict.FAIL)


def yardstick_search(
    plan: SearchPlan, workdir: Path
) -> tuple[dict[str, CapacitySearch], list[Measurement]]:
    """The independent client's search: the same rule, trial by trial on fresh engines."""
    searches = {p: CapacitySearch(start=plan.start, max_rate=plan.max_rate) for p in plan.presets}
    runs: list[Measurement] = []
    trial_round = 0
    while active := [p for p in plan.presets if not searches[p].done]:
        rates = {p: searches[p].next_rate() or 0.0 for p in active}
        judged: dict[str, list[TrialVerdict]] = {p: [] for p in active}
        for trial in range(1, plan.trials + 1):
            undecided = [p for p in active if step_verdict(judged[p], plan.trials) is None]
            if not undecided:
                break
            for preset in round_order(undecided, trial_round):
                step = Step(preset, plan.configs[preset], rates[preset], plan.warmup_s,
                            plan.step_s, trial, plan.client, scenario=plan.scenario)  # fmt: skip
                measured = measure_undisturbed(step, workdir, plan.retries)
                print_step(measured)
                runs.append(measured)
                judged[preset].append(_trial_verdict(measured))
            trial_round += 1
        for preset in active:
            verdict = step_verdict(judged[preset], plan.trials)
            assert verdict is not None, "every planned trial ran: the majority is decided"
            searches[preset].record(rates[preset], verdict)
            print(f"  {preset} {rates[preset]:,.0f}/s: {verdict.value}", flush=True)
    return searches, runs


def _answer_of_search(search: CapacitySearch) -> Answer:
    return Answer(
        capacity=search.capacity, lower_bound=search.is_lower_bound,
        limit=search.limit.value if search.limit else None,
        steps=[(rate, verdict.value) for rate, verdict in search.history],
    )  # fmt: skip


def _answer_of_result(result: CapacityResult, preset: str) -> Answer:
    config = next(c for c in result.configs if c.config == preset)
    return Answer(
        capacity=config.capacity, lower_bound=config.lower_bound, limit=config.limit,
        steps=[(step.rate, step.verdict) for step in config.steps],
    )  # fmt: skip


def agreement_rows(
    presets: list[str], result: CapacityResult, yardstick: dict[str, CapacitySearch]
) -> list[AgreementRow]:
    rows = []
    for preset in presets:
        ours, theirs = _answer_of_result(result, preset), _answer_of_search(yardstick[preset])
        ratio = ours.capacity / theirs.capacity if ours.capacity and theirs.capacity else None
        agrees = ratio is not None and abs(ratio - 1) <= AGREEMENT
        rows.append(AgreementRow(preset=preset, vbench=ours, yardstick=theirs, ratio=ratio,
                                 agrees=agrees))  # fmt: skip
    return rows


def _shown(answer: Answer) -> str:
    if answer.capacity is None:
        return f"none ({answer.limit})"
    return f"{'≥ ' if answer.lower_bound else ''}{answer.capacity:,.0f}/s ({answer.limit})"


def render(report: AgreementReport) -> str:
    lines = [
        f"### vbench capacity vs the independent client (p99 ≤ {P99_LIMIT_MS:g} ms, "
        f"{report.step_s:g} s steps after {report.warmup_s:g} s warm-up, majority of "
        f"{report.trials}, growth ×{GROWTH:g}, resolution {RESOLUTION:.0%})",
        "",
        "| preset | vbench capacity | independent client | ratio | within 15% |",
        "|---|---:|---:|---:|---|",
    ]
    for row in report.rows:
        ratio = "–" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(
            f"| {row.preset} | {_shown(row.vbench)} | {_shown(row.yardstick)} | {ratio} | "
            f"{'yes' if row.agrees else '**no**'} |"
        )
    within = "within" if report.vbench_wall_s <= WALL_TARGET_S else "**over**"
    lines += [
        "",
        f"vbench's search took {report.vbench_wall_s / 60:.1f} min ({within} the "
        f"{WALL_TARGET_S / 60:.0f} min target); the independent client's "
        f"{report.yardstick_wall_s / 60:.1f} min. vbench's directory: `{report.vbench_dir}`.",
    ]
    return "\n".join(lines) + "\n"


def measure_agreement(plan: SearchPlan, workdir: Path, out: Path) -> AgreementReport:
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    print(f"vbench capacity {' '.join(plan.presets)}:", flush=True)
    result, folder, vbench_wall_s = vbench_search(plan, out)
    print("independent client, the same search:", flush=True)
    started = time.monotonic()
    yardstick, runs = yardstick_search(plan, workdir)
    return AgreementReport(
        started_at=started_at, step_s=plan.step_s, warmup_s=plan.warmup_s, trials=plan.trials,
        start=plan.start, vbench_dir=folder, vbench_wall_s=round(vbench_wall_s, 1),
        yardstick_wall_s=round(time.monotonic() - started, 1),
        rows=agreement_rows(plan.presets, result, yardstick), yardstick_runs=runs,
    )  # fmt: skip
