"""Capacity of the engine presets under open-model load: the rate ladder and a 30 s soak.

For each preset, a fresh engine on a fresh SQLite file per measurement: players join their
hunts, then single-event POSTs (checkin / solve / hint / claim, unique ids) arrive on a
fixed schedule whatever the engine does (`trial.py`, `_openloop.py`). Latency runs from the
intended send time. Presets alternate at every step (default, tuned, default, tuned ...).

    python -m benchmarks.engine_capacity            # the full run (~25 min)
    python -m benchmarks.engine_capacity --quick    # a smoke check (~2 min)
    python -m benchmarks.engine_capacity --render benchmarks/results/engine_capacity.json
    python -m benchmarks.engine_capacity --agreement    # vbench capacity vs this client (~20 min)

Writes the raw figures as JSON (`--out`), its tables beside it (same name, `.md`) and into
benchmarks/README.md's block of that name; prints the tables.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from benchmarks._openloop import ClientKind, raise_open_file_limit, run_open_loop
from benchmarks.capacity_agreement import SearchPlan, measure_agreement
from benchmarks.capacity_agreement import render as render_agreement
from benchmarks.capacity_report import (
    SOAK_RATE,
    CapacityReport,
    CeilingRow,
    SoakRuns,
    StepRow,
    read_report,
    render_markdown,
    soak_trend,
    step_row,
    write_report,
)
from benchmarks.harness import HOST, REPO, add_json_options, json_path, publish, script_parser
from benchmarks.trial import (
    ACHIEVED_MIN,
    MAX_CONNECTIONS,
    MIX,
    P99_LIMIT_MS,
    RETRIES,
    HuntTraffic,
    Measurement,
    Step,
    engine_code_fingerprint,
    measure_undisturbed,
    print_step,
)
from veltrix_bench.engine.config import EngineConfig, load_config
from veltrix_bench.engine.world import World
from veltrix_bench.load.scenario import load_scenario

AGREEMENT_SCENARIO = "steady"  # `vbench capacity`'s default scenario
DEFAULT_RATES = (100, 250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 7000, 8000)
CEILING_RATES = (2000, 4000, 6000, 8000)


@dataclass(frozen=True)
class Plan:
    """What one invocation measures."""

    presets: list[str]
    configs: dict[str, EngineConfig]
    rates: list[float]
    warmup_s: float
    step_s: float
    soak_s: float
    trials: int
    retries: int
    client: ClientKind
    ceiling: bool
    ladder: bool
    soak: bool


# -- the client's own ceiling -------------------------------------------------------------------
def client_ceiling(
    rates: Sequence[int], warmup_s: float, duration_s: float, client: ClientKind
) -> list[CeilingRow]:
    """The open-model client against a canned-answer asyncio server (no engine work)."""
    rows = []
    for rate in rates:
        canned = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._openloop", "canned"],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
        )
        assert canned.stdout is not None
        ready = re.search(rb"port=(\d+) pid=(\d+)", canned.stdout.readline())
        if ready is None:
            canned.kill()
            raise RuntimeError("canned server did not start")
        port, pid = int(ready.group(1)), int(ready.group(2))
        try:
            bodies = HuntTraffic(World.generate(load_config("tuned").world)).play(
                int(rate * (warmup_s + duration_s)) + 1
            )
            load = asyncio.run(
                run_open_loop(
                    HOST, port, "/v1/events", bodies, rate, warmup_s, duration_s,
                    client=client, target_pid=pid,
                )
            )  # fmt: skip
        finally:
            canned.send_signal(signal.SIGINT)
            canned.wait(10)
        row = CeilingRow(
            rate=rate,
            achieved=load.achieved_rate,
            p50_ms=load.latency.p50,
            p99_ms=load.latency.p99,
            client_cpu_pct=load.client_cpu_pct,
            server_cpu_pct=load.target_cpu_pct,
            machine_cpu_pct=load.machine_cpu_pct,
            late_generator=load.late_generator,
            max_generator_lag_ms=load.max_generator_lag_ms,
        )
        print(f"  canned {rate}/s: {row}", flush=True)
        rows.append(row)
    return rows


# -- the ladder and the soak --------------------------------------------------------------------
def _measure(
    plan: Plan, preset: str, rate: float, duration_s: float, trial: int, workdir: Path
) -> Measurement:
    step = Step(preset, plan.configs[preset], rate, plan.warmup_s, duration_s, trial, plan.client)
    m = measure_undisturbed(step, workdir, plan.retries)
    print_step(m)
    return m


def ladder(plan: Plan, workdir: Path) -> tuple[list[StepRow], list[Measurement]]:
    """Step the rate up, presets interleaved; a preset leaves after its second failed step."""
    failures = dict.fromkeys(plan.presets, 0)
    rows: list[StepRow] = []
    everything: list[Measurement] = []
    for rate in plan.rates:
        active = [p for p in plan.presets if failures[p] < 2]
        if not active:
            break
        by_preset: dict[str, list[Measurement]] = {p: [] for p in active}
        for trial in range(1, plan.trials + 1):
            for preset in active:
                m = _measure(plan, preset, rate, plan.step_s, trial, workdir)
                by_preset[preset].append(m)
                everything.append(m)
        for preset in active:
            row = step_row(by_preset[preset])
            if not row.passed:
                failures[preset] += 1
            rows.append(row)
    return rows, everything


def soak(plan: Plan, workdir: Path) -> dict[str, SoakRuns]:
    """SOAK_RATE for soak_s, each preset `trials` times, presets alternated."""
    runs: dict[str, list[Measurement]] = {p: [] for p in plan.presets}
    for trial in range(1, plan.trials + 1):
        for preset in plan.presets:
            runs[preset].append(_measure(plan, preset, SOAK_RATE, plan.soak_s, trial, workdir))
    return {p: SoakRuns(summary=[soak_trend(m) for m in ms], runs=ms) for p, ms in runs.items()}


# -- one run of the script ----------------------------------------------------------------------
def _git_head() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
            check=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip()


def _problems(
    ladder_runs: list[Measurement], soaked: dict[str, SoakRuns], fingerprints: set[str]
) -> list[str]:
    """Every measurement's problems, and whether the engine's code changed meanwhile."""
    found = [f"{m.preset} {m.rate}/s trial {m.trial}: {p}" for m in ladder_runs for p in m.problems]
    found += [
        f"soak {preset}: trial {run.trial}: {problem}"
        for preset, runs in soaked.items()
        for run in runs.runs
        for problem in run.problems
    ]
    seen = fingerprints | {m.engine_code for m in ladder_runs}
    seen |= {run.engine_code for runs in soaked.values() for run in runs.runs}
    if len(seen) > 1:
        found.append(
            "the engine's code changed during this run (someone edited veltrix_bench/engine): "
            "measurements are not comparable; run again"
        )
    return found


def measure_plan(plan: Plan, open_file_limit: int) -> CapacityReport:
    """The client's ceiling, the ladder and the soak, as the plan asks."""
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    code_at_start, git_head = engine_code_fingerprint(), _git_head()
    ceiling = ladder_rows = ladder_runs = soaked = None
    with tempfile.TemporaryDirectory(prefix="vbench-capacity-") as tmp:
        workdir = Path(tmp)
        if plan.ceiling:
            print("client ceiling (canned server):", flush=True)
            rates = [r for r in CEILING_RATES if r <= 2 * max(plan.rates)] or [int(max(plan.rates))]
            ceiling = client_ceiling(rates, plan.warmup_s, plan.step_s, plan.client)
        if plan.ladder:
            print("ladder:", flush=True)
            ladder_rows, ladder_runs = ladder(plan, workdir)
        if plan.soak:
            print(f"soak at {SOAK_RATE}/s for {plan.soak_s:.0f} s:", flush=True)
            soaked = soak(plan, workdir)
    code_at_end = engine_code_fingerprint()
    first = plan.configs[plan.presets[0]]
    return CapacityReport(
        started_at=started_at,
        client=plan.client,
        presets=plan.presets,
        warmup_s=plan.warmup_s,
        step_s=plan.step_s,
        soak_s=plan.soak_s,
        trials=plan.trials,
        criteria={"p99_ms_max": P99_LIMIT_MS, "achieved_min_ratio": ACHIEVED_MIN},
        world=first.world.model_dump(),
        configs={p: plan.configs[p].model_dump() for p in plan.presets},
        mix=MIX,
        engine_code_at_start=code_at_start,
        max_connections=MAX_CONNECTIONS,
        open_file_limit=open_file_limit,
        git_head=git_head,
        client_ceiling=ceiling,
        ladder=ladder_rows,
        ladder_runs=ladder_runs,
        soak=soaked,
        engine_code_at_end=code_at_end,
        problems=_problems(ladder_runs or [], soaked or {}, {code_at_start, code_at_end}),
    )


# -- command line ------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--presets", default="default,tuned", help="comma-separated presets")
    parser.add_argument("--rates", default=None, help="comma-separated offered rates (events/s)")
    parser.add_argument("--quick", action="store_true", help="short steps: a smoke check")
    parser.add_argument("--trials", type=int, default=None, help="runs per step (median)")
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw")
    parser.add_argument("--players", type=int, default=None, help="world size (default 2000)")
    parser.add_argument("--hunts", type=int, default=None, help="world size (default 4)")
    parser.add_argument(
        "--retries", type=int, default=None, help=f"reruns of a disturbed measurement ({RETRIES})"
    )
    parser.add_argument("--skip-ladder", action="store_true")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument(
        "--agreement", action="store_true",
        help="`vbench capacity` and this client's own search by the same rule, side by side",
    )  # fmt: skip
    parser.add_argument("--start", type=float, default=100.0, help="--agreement: first rate")
    parser.add_argument("--max-rate", type=float, default=None, help="--agreement: highest rate")
    parser.add_argument(
        "--step", type=float, default=None, help="--agreement: seconds per step (10, --quick 3)"
    )
    add_json_options(parser, "engine_capacity")
    return parser


def plan_from(args: argparse.Namespace) -> Plan:
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    world = {k: v for k, v in (("players", args.players), ("hunts", args.hunts)) if v}
    warmup_s, step_s, soak_s = (1.0, 3.0, 8.0) if args.quick else (2.0, 10.0, 30.0)
    return Plan(
        presets=presets,
        configs={p: load_config(p).with_overrides(world=world) if world else load_config(p)
                 for p in presets},
        rates=[float(r) for r in args.rates.split(",")] if args.rates else list(DEFAULT_RATES),
        warmup_s=warmup_s,
        step_s=step_s,
        soak_s=soak_s,
        trials=args.trials or (1 if args.quick else 3),
        retries=args.retries if args.retries is not None else (0 if args.quick else RETRIES),
        client=args.client,
        ceiling=not args.skip_ceiling,
        ladder=not args.skip_ladder,
        soak=not args.skip_soak,
    )  # fmt: skip


def publish_report(report: CapacityReport, raw: Path) -> None:
    """The tables beside the JSON (same name, .md) and in benchmarks/README.md's block."""
    publish(
        raw.stem,
        render_markdown(report),
        render_markdown(report, per_second=False),
        folder=raw.parent,
    )


def _interrupt(signum: int, frame: object) -> None:
    # asyncio.run's own SIGINT handler only cancels the running task, and a cancellation
    # swallowed on the way leaves the ladder going; raising here ends it (each measurement
    # stops its engine in a `finally`).
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.render is not None:
        report = read_report(args.render)
        print(render_markdown(report))
        publish_report(report, args.render)
        return 0
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    if args.agreement:
        return agreement(args)
    try:
        plan = plan_from(args)
        nofile = raise_open_file_limit()
        print(f"open-file limit {nofile}; client {plan.client}; trials {plan.trials}", flush=True)
        report = measure_plan(plan, nofile)
    except KeyboardInterrupt:
        print("engine_capacity: interrupted", file=sys.stderr)
        return 130
    out = json_path(args, "engine_capacity")
    write_report(report, out)
    print()
    print(render_markdown(report))
    publish_report(report, out)
    print(f"raw figures: {out}")
    return 0


def agreement(args: argparse.Namespace) -> int:
    """--agreement: vbench capacity's answers and this client's, their ratio, vbench's time."""
    plan = plan_from(args)
    world = load_scenario(AGREEMENT_SCENARIO).world.model_dump()
    search = SearchPlan(
        presets=plan.presets,
        configs={p: load_config(p).with_overrides(world=world) for p in plan.presets},
        start=args.start, max_rate=args.max_rate, step_s=args.step or plan.step_s,
        warmup_s=plan.warmup_s, trials=plan.trials, retries=plan.retries, client=plan.client,
        scenario=AGREEMENT_SCENARIO,
    )  # fmt: skip
    raise_open_file_limit()
    out = json_path(args, "engine_capacity-agreement")
    try:
        with tempfile.TemporaryDirectory(prefix="vbench-agreement-") as tmp:
            report = measure_agreement(search, Path(tmp), REPO / "reports")
    except KeyboardInterrupt:
        print("engine_capacity: interrupted", file=sys.stderr)
        return 130
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(msgspec.json.format(msgspec.json.encode(report), indent=1))
    print()
    print(render_agreement(report))
    publish(out.stem, render_agreement(report), folder=out.parent)
    print(f"raw figures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
