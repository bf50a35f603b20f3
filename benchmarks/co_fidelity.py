"""Coordinated-omission fidelity: does vbench's p99 match the truth when the engine stalls?

The engine (tuned preset) blocks its whole process for STALL ms every PERIOD s. Under an
open-model load well below capacity, a request that arrives u ms into a stall waits STALL-u
ms, so the intended-time latency exceeds x for a fraction (STALL - x) / PERIOD of requests:
p99 = STALL - 0.01 * PERIOD (200 ms every 2 s: ~180 ms) plus the engine's own latency.

Two references for vbench's figure, measured in the same run:
- the model: a healthy run's measured latencies (same rate, no stalls) convolved with the
  stall's residual wait for a uniformly random arrival (Monte Carlo), with the stall length
  the engine measured and logged for its stalls (`fault: stalled the process for X ms`);
- an independent open-loop client (benchmarks/trial.py over _openloop.py: one asyncio process, a raw
  HTTP/1.1 client, no Locust, no gevent) playing the same hunts against a fresh stalling
  engine, at the same rate and for as long, with latency from each request's intended time.
  It sees what the model leaves out: the requests held by a stall reach the engine in one
  burst when it ends, and wait for the whole burst to be processed.
"True" is the independent client's p99; vbench must be within ±15% of it. vbench and the
independent client alternate (A B, B A, …) for ROUNDS rounds; medians are reported.

The same engine is then measured the closed-loop way (a couple of users that wait for each
answer), with vbench's histogram and with Locust's own statistics: both miss most of the
stall, because a stalled user sends nothing while it waits, so only one request per user
per stall records it.

    python -m benchmarks.co_fidelity [--stall-ms 200] [--period-s 2] [--rate 200]
                                     [--duration 30] [--rounds 3]

Writes results/co_fidelity.md (everything it printed) and its table into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from benchmarks.harness import (
    logged_stalls,
    printed_path,
    publish,
    run_vbench,
    script_parser,
    transcript,
)
from benchmarks.trial import Step, measure
from veltrix_bench.analysis.histograms import merged_log
from veltrix_bench.engine.config import EngineConfig, load_config
from veltrix_bench.hdr import values_at_percentiles

WARM_UP_S = 2.0


def logged_stalls_ms(log: Path) -> list[float]:
    """The stall lengths the engine logged."""
    return [ms for _, ms in logged_stalls(log)]


def model_p99(healthy_run: Path, stall_ms: float, period_s: float, samples: int = 400_000) -> float:
    """p99 of (healthy latency + residual stall wait) for uniformly random arrivals."""
    histogram = merged_log(healthy_run / "latency.hlog")
    rng = np.random.default_rng(1)
    quantiles = rng.uniform(0, 100, samples)
    base = np.array(values_at_percentiles(histogram, quantiles[:20_000].tolist()), float) / 1000
    base = rng.choice(base, samples)
    phase = rng.uniform(0, period_s * 1000, samples)
    residual = np.where(phase < stall_ms, stall_ms - phase, 0.0)
    return float(np.percentile(base + residual, 99))


def vbench_run(out: Path, config: str, *args: str, scenario: str = "steady") -> dict[str, Any]:
    """summary.json of one `vbench run`, with Locust's own p99 and the run directory."""
    done = run_vbench("run", "--scenario", scenario, "--config", config, "--out", str(out), *args)
    run_dir = printed_path(done)
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    record = json.loads((run_dir / "run.json").read_text())
    summary["locust_p99_ms"] = (record.get("final") or {}).get("locust_p99_ms")
    summary["run_dir"] = str(run_dir)
    return summary


def independent_run(
    config: EngineConfig, rate: float, duration_s: float, trial: int, workdir: Path
) -> tuple[float, list[float]]:
    """(p99 in ms, logged stalls) of the independent open-loop client on a fresh engine."""
    measured = measure(Step("stalling", config, rate, WARM_UP_S, duration_s, trial), workdir)
    if measured.problems:
        print(f"  independent client, round {trial}: {'; '.join(measured.problems)}",
              file=sys.stderr)  # fmt: skip
    return measured.load.latency.p99 or 0.0, logged_stalls_ms(Path(measured.engine_log))


@dataclass
class Fidelity:
    """Every p99 measured, in the order measured (ms), and the references."""

    vbench: list[float] = field(default_factory=list)
    service: list[float] = field(default_factory=list)
    locust_open: list[float | None] = field(default_factory=list)
    independent: list[float] = field(default_factory=list)
    stalls: list[float] = field(default_factory=list)
    stall_ms: float = 0.0
    model: float = 0.0
    healthy: dict[str, Any] = field(default_factory=dict)
    closed: dict[str, Any] = field(default_factory=dict)


def measure_rounds(args: argparse.Namespace, out: Path, fidelity: Fidelity) -> Path:
    """vbench and the independent client alternated on a stalling engine; its config file."""
    duration = f"{args.duration:g}s"
    stalling = load_config("tuned").with_overrides(
        faults={"stall_ms": args.stall_ms, "stall_every_s": args.period_s}
    )
    config = out / "stalling.toml"
    config.write_text(stalling.to_toml())
    for round_index in range(args.rounds):
        order = ("vbench", "independent") if round_index % 2 == 0 else ("independent", "vbench")
        for side in order:
            if side == "vbench":
                opened = vbench_run(
                    out, str(config), "--rate", str(args.rate), "--duration", duration
                )
                fidelity.vbench.append(opened["latency_ms"]["p99"])
                fidelity.service.append(opened["service_time_ms"]["p99"])
                fidelity.locust_open.append(opened["locust_p99_ms"])
                fidelity.stalls += logged_stalls_ms(Path(opened["run_dir"]) / "engine.log")
            else:
                p99, logged = independent_run(stalling, args.rate, args.duration, round_index, out)
                fidelity.independent.append(p99)
                fidelity.stalls += logged
            last = fidelity.vbench[-1] if side == "vbench" else fidelity.independent[-1]
            print(f"round {round_index + 1} {side:>11}: p99 {last:.1f} ms", flush=True)
    return config


def measure_references(
    args: argparse.Namespace, out: Path, config: Path, fidelity: Fidelity
) -> None:
    """The model (from a healthy run) and the closed-loop view of the same stalling engine."""
    duration = f"{args.duration:g}s"
    fidelity.healthy = vbench_run(out, "tuned", "--rate", str(args.rate), "--duration", "20s")
    fidelity.stall_ms = float(np.median(fidelity.stalls)) if fidelity.stalls else args.stall_ms
    fidelity.model = model_p99(Path(fidelity.healthy["run_dir"]), fidelity.stall_ms, args.period_s)
    # closed users that send again as soon as answered (no think time): a stall then
    # holds one request per user, which a closed-loop measurement barely sees
    closed_scenario = out / "closed.toml"
    closed_scenario.write_text(
        'name = "closed-no-wait"\n[load]\nmodel = "closed"\n'
        f'users = {args.users}\nduration = "{duration}"\nwait = ["0ms", "0ms"]\n'
    )
    fidelity.closed = vbench_run(
        out, str(config), "--duration", duration, scenario=str(closed_scenario)
    )


def report(args: argparse.Namespace, f: Fidelity) -> str:
    """The table benchmarks/README.md quotes, with its one-line setting and verdict."""
    duration = f"{args.duration:g}s"
    measured, truth, model = median(f.vbench), median(f.independent), f.model
    error = (measured - truth) / truth

    def rounds(values: list[float]) -> str:
        return ", ".join(f"{v:.1f}" for v in values)

    verdict = "within" if abs(error) <= 0.15 else "OUTSIDE"
    return "\n".join([
        f"Engine stalls {args.stall_ms:.0f} ms every {args.period_s:g} s (median logged "
        f"stall {f.stall_ms:.1f} ms over {len(f.stalls)} stalls); open model at {args.rate:.0f} "
        f"req/s for {duration}, {args.rounds} rounds alternated; closed model with "
        f"{args.users} users, {duration}.",
        "",
        "| measurement | p99 (median) | per round |",
        "|---|---:|---|",
        f"| **true**: independent open-loop client (asyncio, raw HTTP), intended time "
        f"| {truth:.1f} ms | {rounds(f.independent)} |",
        f"| vbench, open model, intended time | {measured:.1f} ms ({error:+.1%} vs true) "
        f"| {rounds(f.vbench)} |",
        f"| vbench, open model, service time | {median(f.service):.1f} ms "
        f"| {rounds(f.service)} |",
        f"| model: healthy latency + stall residual (STALL − 1% × PERIOD = "
        f"{f.stall_ms - 10 * args.period_s:.0f} ms alone; healthy p99 "
        f"{f.healthy['latency_ms']['p99']:.1f} ms) | {model:.1f} ms "
        f"(vbench {(measured - model) / model:+.1%}, independent "
        f"{(truth - model) / model:+.1%}) | |",
        f"| vbench, closed model ({args.users} users) | {f.closed['latency_ms']['p99']:.1f} ms | |",
        f"| Locust's own p99, closed model | {f.closed['locust_p99_ms']} ms | |",
        f"| Locust's own p99, open model | {f.locust_open[-1]} ms | |",
        "",
        f"vbench's open-model p99 is {verdict} ±15% of the true p99.",
    ])  # fmt: skip


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--stall-ms", type=float, default=200.0)
    parser.add_argument("--period-s", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    fidelity = Fidelity()
    with transcript() as printed:
        with tempfile.TemporaryDirectory() as scratch:
            config = measure_rounds(args, Path(scratch), fidelity)
            measure_references(args, Path(scratch), config, fidelity)
        table = report(args, fidelity)
        print(f"\n{table}")
    publish("co_fidelity", printed.getvalue(), table)


if __name__ == "__main__":
    main()
