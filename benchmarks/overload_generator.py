"""Does the generator keep up with the incident's load? `vbench run --scenario overload` on one
config, TRIALS times, and for each: whether the generator was saturated, its CPU share, its
late starts by cause, and the achieved rate.

Issue 15's target: against `tuned` on this machine, the generator is not saturated in at
least 9 of 10 trials at the incident's 2,000 events/s.

    python -m benchmarks.overload_generator [--trials 10] [--config tuned] [--rate R]

Writes results/overload_generator.md (everything it printed) and its table into
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import msgspec

from benchmarks.harness import (
    machine_busy_seconds,
    printed_path,
    publish,
    run_vbench,
    script_parser,
    transcript,
)


class Trial(msgspec.Struct, frozen=True):
    number: int
    exit_code: int
    rate: float
    saturated: bool
    achieved: float | None
    cpu_share: float | None
    late_generator: int
    late_cap: int
    p99_ms: float | None
    machine_busy_cores: float  # all processes, over the whole run: what else ran shows here
    wall_s: float


def trial(number: int, args: argparse.Namespace, scratch: str) -> Trial:
    options = ["--rate", str(args.rate)] if args.rate else []
    busy_before, began = machine_busy_seconds(), time.monotonic()
    done = run_vbench(
        "run", "--scenario", args.scenario, "--config", args.config, *options, "--out", scratch
    )
    wall = time.monotonic() - began
    busy = (machine_busy_seconds() - busy_before) / wall
    summary = json.loads((printed_path(done) / "summary.json").read_text())
    generator = summary["generator"]
    return Trial(
        number=number,
        exit_code=done.returncode,
        rate=summary["load"]["target_rate"],
        saturated=generator["saturated"],
        achieved=generator["achieved_rate_ratio"],
        cpu_share=generator["cpu_share"],
        late_generator=generator["late_starts"]["generator"],
        late_cap=generator["late_starts"]["in_flight_cap"],
        p99_ms=summary["latency_ms"]["p99"],
        machine_busy_cores=round(busy, 2),
        wall_s=round(wall, 1),
    )


def report(trials: list[Trial], config: str) -> str:
    lines = [
        "| trial | rate | saturated | achieved | generator CPU share | late: generator / cap "
        "| p99 | machine busy (cores) |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for t in trials:
        achieved = "–" if t.achieved is None else f"{t.achieved:.1%}"
        share = "–" if t.cpu_share is None else f"{t.cpu_share:.2f}"
        p99 = "–" if t.p99_ms is None else f"{t.p99_ms:,.1f} ms"
        lines.append(
            f"| {t.number} | {t.rate:,.0f}/s | {'yes' if t.saturated else 'no'} | {achieved} | "
            f"{share} | {t.late_generator:,} / {t.late_cap:,} | {p99} | {t.machine_busy_cores} |"
        )
    unsaturated = sum(1 for t in trials if not t.saturated)
    lines += [
        "",
        f"{config}: the generator kept up in {unsaturated} of {len(trials)} trials "
        "(target: at least 9 of 10).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--config", default="tuned")
    parser.add_argument("--scenario", default="overload")
    parser.add_argument("--rate", type=float, default=None, help="override the scenario's rate")
    args = parser.parse_args()
    trials = []
    with transcript() as printed:
        with tempfile.TemporaryDirectory() as scratch:
            for number in range(1, args.trials + 1):
                t = trial(number, args, scratch)
                trials.append(t)
                late = f"{t.late_generator}/{t.late_cap}"
                print(f"trial {number}: saturated={t.saturated} share={t.cpu_share} "
                      f"late={late} exit={t.exit_code}", flush=True)  # fmt: skip
        table = report(trials, args.config)
        print(f"\n{table}")
    publish("overload_generator", printed.getvalue(), table)


if __name__ == "__main__":
    main()
