"""engine_capacity's result file (`vbench.engine_capacity/1`) as types, and its Markdown tables."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from benchmarks.trial import ACHIEVED_MIN, P99_LIMIT_MS, Measurement

SOAK_RATE = 2000


class CeilingRow(msgspec.Struct, kw_only=True):
    """The client against a canned-answer server at one rate."""

    rate: int
    achieved: float
    p50_ms: float | None
    p99_ms: float | None
    client_cpu_pct: float
    server_cpu_pct: float | None
    machine_cpu_pct: float
    late_generator: int
    max_generator_lag_ms: float


class StepRow(msgspec.Struct, kw_only=True):
    """One preset at one offered rate: medians over its trials."""

    preset: str
    rate: float
    trials: int
    passed_trials: int
    achieved: float | None
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    errors: int
    error_kinds: list[str]
    others_cpu_pct: float | None
    engine_cpu_us_per_answer: float | None
    outstanding: float | None
    client_cpu_pct: float | None
    engine_cpu_pct: float | None
    machine_cpu_pct: float | None
    max_queue_depth: float | None
    late_generator: float | None
    passed: bool  # a majority of its trials passed


class SoakTrend(msgspec.Struct, kw_only=True):
    """Trends over one soak trial's window."""

    trial: int
    achieved: float
    p99_ms: float | None
    queue_slope_per_s: float | None
    queue_slope_first_10_s: float | None
    p99_slope_ms_per_s: float | None
    rss_slope_mb_per_s: float | None
    queue_max: float | None
    queue_last: float | None
    rss_last_mb: float | None
    in_flight_last: int | None


class SoakRuns(msgspec.Struct, kw_only=True):
    summary: list[SoakTrend]
    runs: list[Measurement]


class CapacityReport(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What one run of engine_capacity measured; a phase it skipped is left out."""

    schema: str = "vbench.engine_capacity/1"
    started_at: str
    client: str
    presets: list[str]
    warmup_s: float
    step_s: float
    soak_s: float
    trials: int
    criteria: dict[str, float]
    world: dict[str, Any]
    configs: dict[str, Any] | None = None  # as measured, files too (absent in early files)
    mix: dict[str, float]
    engine_code_at_start: str
    max_connections: int
    open_file_limit: int
    git_head: str
    client_ceiling: list[CeilingRow] | None = None
    ladder: list[StepRow] | None = None
    ladder_runs: list[Measurement] | None = None
    soak: dict[str, SoakRuns] | None = None
    engine_code_at_end: str
    problems: list[str]


def write_report(report: CapacityReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(msgspec.to_builtins(report), indent=1, default=str))


def read_report(path: Path) -> CapacityReport:
    return msgspec.json.decode(path.read_bytes(), type=CapacityReport)


# -- figures from measurements ------------------------------------------------------------------
def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def _us_per_answer(m: Measurement) -> float | None:
    load = m.load
    if load.target_cpu_pct is None or not load.achieved_rate:
        return None
    return 1e4 * load.target_cpu_pct / load.achieved_rate


def step_row(trials: list[Measurement]) -> StepRow:
    """The medians of one step's trials; the step passes when most of its trials did."""
    loads = [m.load for m in trials]
    passed_trials = sum(m.passed for m in trials)
    return StepRow(
        preset=trials[0].preset,
        rate=trials[0].rate,
        trials=len(trials),
        passed_trials=passed_trials,
        achieved=_median([load.achieved_rate for load in loads]),
        p50_ms=_median([load.latency.p50 for load in loads]),
        p99_ms=_median([load.latency.p99 for load in loads]),
        max_ms=_median([load.latency.max for load in loads]),
        errors=sum(sum(load.errors.values()) for load in loads),
        error_kinds=sorted({kind for load in loads for kind in load.errors}),
        others_cpu_pct=_median([load.others_cpu_pct for load in loads]),
        engine_cpu_us_per_answer=_median([_us_per_answer(m) for m in trials]),
        outstanding=_median([load.outstanding_at_cutoff for load in loads]),
        client_cpu_pct=_median([load.client_cpu_pct for load in loads]),
        engine_cpu_pct=_median([load.target_cpu_pct for load in loads]),
        machine_cpu_pct=_median([load.machine_cpu_pct for load in loads]),
        max_queue_depth=_median(
            [
                max((s.probe.get("veltrix_queue_depth", 0) for s in load.seconds), default=0)
                for load in loads
            ]
        ),
        late_generator=_median([load.late_generator for load in loads]),
        passed=passed_trials * 2 > len(trials),
    )


def _trend(values: list[float]) -> float:
    """Least-squares slope per second over the series, skipping seconds without a figure."""
    series = np.asarray(values, dtype=float)
    seconds = np.arange(len(series))
    present = ~np.isnan(series)
    if present.sum() < 2:
        return float("nan")
    slope, _ = np.polyfit(seconds[present], series[present], 1)
    return float(slope)


def _rounded(value: float, digits: int) -> float | None:
    return None if np.isnan(value) else round(value, digits)


def soak_trend(run: Measurement) -> SoakTrend:
    """Trends over the soak window of one trial."""
    load = run.load
    start, end = load.warmup_s, load.warmup_s + load.duration_s
    window = [s for s in load.seconds if start < s.t <= end]
    nan = float("nan")
    depth = [s.probe.get("veltrix_queue_depth", nan) for s in window]
    rss = [s.probe.get("process_resident_memory_bytes", nan) / 1e6 for s in window]
    known_depth = [d for d in depth if not np.isnan(d)]
    known_rss = [r for r in rss if not np.isnan(r)]
    return SoakTrend(
        trial=run.trial,
        achieved=load.achieved_rate,
        p99_ms=load.latency.p99,
        queue_slope_per_s=_rounded(_trend(depth), 1),
        queue_slope_first_10_s=_rounded(_trend(depth[:10]), 1),
        p99_slope_ms_per_s=_rounded(_trend([s.p99_ms for s in window]), 2),
        rss_slope_mb_per_s=_rounded(_trend(rss), 2),
        queue_max=max(known_depth) if known_depth else None,
        queue_last=known_depth[-1] if known_depth else None,
        rss_last_mb=round(known_rss[-1], 1) if known_rss else None,
        in_flight_last=window[-1].in_flight if window else None,
    )


# -- Markdown ----------------------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _verdict(passed: bool, passed_trials: int, trials: int) -> str:
    verdict = "pass" if passed else "**fail**"
    return verdict + (f" ({passed_trials}/{trials})" if trials > 1 else "")


def _errors(count: int, kinds: Sequence[str]) -> str:
    return f"{count:,}" + (f" ({', '.join(kinds)})" if count else "")


def ceiling_table(rows: list[CeilingRow]) -> str:
    lines = [
        "| offered /s | achieved /s | p50 ms | p99 ms | client CPU % | canned server CPU % | "
        "machine CPU % | late sends |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.rate:,} | {_fmt(r.achieved, 0)} | {_fmt(r.p50_ms, 2)} | "
            f"{_fmt(r.p99_ms, 2)} | {_fmt(r.client_cpu_pct, 0)} | "
            f"{_fmt(r.server_cpu_pct, 0)} | {_fmt(r.machine_cpu_pct, 0)} | "
            f"{r.late_generator:,} |"
        )
    return "\n".join(lines)


def capacity_table(rows: list[StepRow], presets: Sequence[str]) -> str:
    lines = [
        f"| preset | highest offered rate with p99 ≤ {P99_LIMIT_MS:.0f} ms and achieved ≥ "
        f"{ACHIEVED_MIN:.0%} | p99 there (ms) | first failing rate |",
        "|---|---:|---:|---:|",
    ]
    for preset in presets:
        mine = [r for r in rows if r.preset == preset]
        passing = [r for r in mine if r.passed]
        failing = [r for r in mine if not r.passed]
        best = max(passing, key=lambda r: r.rate) if passing else None
        best_rate = f"{int(best.rate):,} /s" if best else "none"
        best_p99 = _fmt(best.p99_ms) if best else "–"
        first_fail = f"{int(failing[0].rate):,} /s" if failing else "none failed"
        lines.append(f"| {preset} | {best_rate} | {best_p99} | {first_fail} |")
    return "\n".join(lines)


def ladder_table(rows: list[StepRow]) -> str:
    lines = [
        "| preset | offered /s | achieved /s | p50 ms | p99 ms | max ms | non-200 | "
        "max queue | client CPU % | engine CPU % | others CPU % | engine CPU µs / answer "
        "| verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.preset} | {int(r.rate):,} | {_fmt(r.achieved, 0)} | "
            f"{_fmt(r.p50_ms)} | {_fmt(r.p99_ms)} | {_fmt(r.max_ms)} | "
            f"{_errors(r.errors, r.error_kinds)} | "
            f"{_fmt(r.max_queue_depth, 0)} | {_fmt(r.client_cpu_pct, 0)} | "
            f"{_fmt(r.engine_cpu_pct, 0)} | {_fmt(r.others_cpu_pct, 0)} | "
            f"{_fmt(r.engine_cpu_us_per_answer, 0)} | "
            f"{_verdict(r.passed, r.passed_trials, r.trials)} |"
        )
    return "\n".join(lines)


def trial_table(runs: list[Measurement], presets: Sequence[str]) -> str:
    lines = [
        "| preset | offered /s | trial | achieved /s | p50 ms | p99 ms | non-200 | "
        "engine CPU % | engine CPU µs / answer | others CPU % | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in sorted(runs, key=lambda m: (m.rate, presets.index(m.preset), m.trial)):
        load = m.load
        lines.append(
            f"| {m.preset} | {int(m.rate):,} | {m.trial} | {_fmt(load.achieved_rate, 0)} | "
            f"{_fmt(load.latency.p50)} | {_fmt(load.latency.p99)} | "
            f"{_errors(sum(load.errors.values()), sorted(load.errors))} | "
            f"{_fmt(load.target_cpu_pct, 0)} | {_fmt(_us_per_answer(m), 0)} | "
            f"{_fmt(load.others_cpu_pct, 0)} | {'pass' if m.passed else '**fail**'} |"
        )
    return "\n".join(lines)


def soak_table(run: Measurement) -> str:
    lines = [
        "| s | offered /s | achieved /s | p99 ms (answers that second) | queue depth | "
        "engine RSS MB | engine CPU % | in flight |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    load = run.load
    start = load.warmup_s
    for s in load.seconds:
        if s.t <= start or s.t > start + load.duration_s:
            continue
        depth = s.probe.get("veltrix_queue_depth")
        rss = s.probe.get("process_resident_memory_bytes")
        lines.append(
            f"| {s.t - int(start)} | {s.scheduled:,} | {s.ok:,} | {s.p99_ms:,.1f} | "
            f"{_fmt(int(depth)) if depth is not None else '–'} | "
            f"{_fmt(rss / 1e6 if rss is not None else None, 0)} | "
            f"{_fmt(s.target_cpu_pct, 0)} | {s.in_flight:,} |"
        )
    return "\n".join(lines)


def soak_overview(soaked: dict[str, SoakRuns]) -> str:
    lines = [
        "| preset | trial | achieved /s | p99 ms (whole window) | max queue depth | "
        "queue slope /s (first 10 s) | p99 slope ms/s | RSS at end MB | RSS slope MB/s | "
        "in flight at end |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for preset, runs in soaked.items():
        for run in runs.runs:
            s = soak_trend(run)
            lines.append(
                f"| {preset} | {s.trial} | {_fmt(s.achieved, 0)} | {_fmt(s.p99_ms)} | "
                f"{_fmt(s.queue_max, 0)} | {_fmt(s.queue_slope_first_10_s)} | "
                f"{_fmt(s.p99_slope_ms_per_s, 2)} | {_fmt(s.rss_last_mb, 0)} | "
                f"{_fmt(s.rss_slope_mb_per_s, 2)} | {_fmt(s.in_flight_last)} |"
            )
    return "\n".join(lines)


def _soak_sections(report: CapacityReport, soaked: dict[str, SoakRuns], per_second: bool) -> str:
    markdown = [f"### {SOAK_RATE:,} events/s for {report.soak_s:.0f} s", "", soak_overview(soaked)]
    cap = report.max_connections
    if any(r.load.max_in_flight > cap for p in soaked.values() for r in p.runs):
        markdown += [
            "",
            f"A request in flight holds a connection, and the client opens at most {cap:,} "
            f"(the open-file limit is {report.open_file_limit:,} for client and "
            "engine alike): past that the engine's queue cannot grow, and the backlog waits "
            "in the client (the in-flight column), its wait still counted in the latency.",
        ]
    for preset, runs in soaked.items() if per_second else ():
        ordered = sorted(runs.runs, key=lambda r: r.load.latency.p99 or 0.0)
        middle = ordered[len(ordered) // 2]
        markdown += [
            "",
            f"#### {preset}, per second (trial {middle.trial}, the median p99)",
            "",
            soak_table(middle),
        ]
    return "\n".join(markdown)


def render_markdown(report: CapacityReport, *, per_second: bool = True) -> str:
    """Every table of a report; without `per_second`, the soak's per-second tables are left out
    (the tables benchmarks/README.md quotes)."""
    sections: list[str] = []
    if report.client_ceiling is not None:
        sections.append(
            "### The client's own ceiling (canned 200 answers, no engine)\n\n"
            + ceiling_table(report.client_ceiling)
        )
    if report.ladder is not None:
        sections.append("### Capacity\n\n" + capacity_table(report.ladder, report.presets))
        sections.append("### Every step (medians over trials)\n\n" + ladder_table(report.ladder))
    if report.ladder_runs:
        sections.append("### Every trial\n\n" + trial_table(report.ladder_runs, report.presets))
    if report.soak is not None:
        sections.append(_soak_sections(report, report.soak, per_second))
    if report.problems:
        sections.append(
            "### Engine behaviour that broke a promise\n\n"
            + "\n".join(f"- {p}" for p in report.problems)
        )
    return "\n\n".join(sections) + "\n"
