"""Coordinated-omission fidelity: does vbench's p99 match the truth when the engine stalls?

The engine (tuned preset) blocks its whole process for STALL ms every PERIOD s. Under an
open-model load well below capacity, a request that arrives u ms into a stall waits STALL-u
ms, so the intended-time latency exceeds x for a fraction (STALL - x) / PERIOD of requests:
the true p99 is base + STALL - 0.01 * PERIOD (200 ms every 2 s: ~180 ms + base).

The "true" p99 used here is that of the healthy run's measured latencies (same rate, no
stalls) plus the stall's residual wait for a uniformly random arrival: a Monte Carlo
convolution of the two, so the engine's own latency on a busy machine is accounted for.
The stall length in it is the one the engine measured and logged for its own stalls
(`fault: stalled the process for X ms` in engine.log: time.sleep overshoots on a busy
machine), and stalls start every PERIOD s on a fixed cadence.

The same engine is then measured the closed-loop way (a couple of users that wait for each
answer), with vbench's histogram and with Locust's own statistics: both miss most of the
stall, because a stalled user sends nothing while it waits, so only one request per user
per stall records it.

    python benchmarks/co_fidelity.py [--stall-ms 200] [--period-s 2] [--rate 200] [--duration 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from veltrix_bench.engine.config import load_config


def logged_stalls_ms(run_dir: Path) -> list[float]:
    """The stall lengths the engine logged during a run."""
    marker = "fault: stalled the process for "
    return [
        float(line.split(marker)[1].split(" ms")[0])
        for line in (run_dir / "engine.log").read_text().splitlines()
        if marker in line
    ]


def true_p99(healthy_run: Path, stall_ms: float, period_s: float, samples: int = 400_000) -> float:
    """p99 of (healthy latency + residual stall wait) for uniformly random arrivals."""
    from veltrix_bench.analysis.histograms import merged_log

    histogram = merged_log(healthy_run / "latency.hlog")
    rng = np.random.default_rng(1)
    quantiles = rng.uniform(0, 100, samples)
    base = np.array([histogram.get_value_at_percentile(q) for q in quantiles[:20_000]]) / 1000
    base = rng.choice(base, samples)
    phase = rng.uniform(0, period_s * 1000, samples)
    residual = np.where(phase < stall_ms, stall_ms - phase, 0.0)
    return float(np.percentile(base + residual, 99))


def vbench_run(out: Path, config: str, *args: str, scenario: str = "steady") -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "veltrix_bench", "run", "--scenario", scenario,
         "--config", config, "--out", str(out), *args],
        capture_output=True, text=True,
    )  # fmt: skip
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / "summary.json").read_text())
    record = json.loads((run_dir / "run.json").read_text())
    summary["locust_p99_ms"] = (record.get("final") or {}).get("locust_p99_ms")
    summary["run_dir"] = str(run_dir)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stall-ms", type=float, default=200.0)
    parser.add_argument("--period-s", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--duration", type=float, default=30.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        config = out / "stalling.toml"
        stalling = load_config("tuned").with_overrides(
            faults={"stall_ms": args.stall_ms, "stall_every_s": args.period_s}
        )
        config.write_text(stalling.to_toml())
        duration = f"{args.duration:g}s"
        healthy = vbench_run(out, "tuned", "--rate", str(args.rate), "--duration", "10s")
        base_p99 = healthy["latency_ms"]["p99"]
        opened = vbench_run(out, str(config), "--rate", str(args.rate), "--duration", duration)
        stalls = logged_stalls_ms(Path(opened["run_dir"]))
        stall_ms = float(np.median(stalls)) if stalls else args.stall_ms
        truth = true_p99(Path(healthy["run_dir"]), stall_ms, args.period_s)
        # closed users that send again as soon as answered (no think time): a stall then
        # holds one request per user, which a closed-loop measurement barely sees
        closed_scenario = out / "closed.toml"
        closed_scenario.write_text(
            'name = "closed-no-wait"\n[load]\nmodel = "closed"\n'
            f'users = {args.users}\nduration = "{duration}"\nwait = ["0ms", "0ms"]\n'
        )
        closed = vbench_run(out, str(config), "--duration", duration,
                            scenario=str(closed_scenario))  # fmt: skip

    measured = opened["latency_ms"]["p99"]
    error = (measured - truth) / truth
    print(f"Engine stalls {args.stall_ms:.0f} ms every {args.period_s:g} s; "
          f"open model at {args.rate:.0f} req/s, closed model with {args.users} users, "
          f"{duration} each.\n")  # fmt: skip
    print("| measurement | p99 |")
    print("|---|---:|")
    print(f"| true p99: healthy latency + stall residual (STALL − 1% × PERIOD = "
          f"{stall_ms - 10 * args.period_s:.0f} ms alone, with the median logged stall of "
          f"{stall_ms:.1f} ms over {len(stalls)} stalls; healthy p99 {base_p99:.1f} ms) "
          f"| {truth:.1f} ms |")  # fmt: skip
    print(f"| vbench, open model, intended time | {measured:.1f} ms ({error:+.1%} vs true) |")
    print(f"| vbench, open model, service time | {opened['service_time_ms']['p99']:.1f} ms |")
    print(f"| vbench, closed model ({args.users} users) | {closed['latency_ms']['p99']:.1f} ms |")
    print(f"| Locust's own p99, closed model | {closed['locust_p99_ms']} ms |")
    print(f"| Locust's own p99, open model | {opened['locust_p99_ms']} ms |")
    verdict = "within" if abs(error) <= 0.15 else "OUTSIDE"
    print(f"\nvbench's open-model p99 is {verdict} ±15% of the true p99.")


if __name__ == "__main__":
    main()
