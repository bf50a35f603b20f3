"""A/A test of `vbench compare`: the same config on both sides must not be called different.

Runs `vbench compare tuned tuned` REPS times (interleaved trials each) and counts the
repetitions in which any latency metric (p50, p99, p99.9) was called better or worse.
Target: no latency difference called in at least 9 of 10 repetitions.

    python -m benchmarks.compare_aa [--reps 10] [--trials 6] [--scenario smoke] [--duration 5s]

Writes results/compare_aa.md (everything it printed) and its table into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass

from benchmarks.harness import printed_path, publish, run_vbench, script_parser, transcript

LATENCY = ("p50", "p99", "p999")


@dataclass(frozen=True)
class Repetition:
    number: int
    ratio: float  # p99, candidate / baseline
    ci_low: float
    ci_high: float
    called: list[str]  # latency metrics called better or worse
    wall_s: float


def repetition(number: int, args: argparse.Namespace, scratch: str) -> Repetition:
    began = time.monotonic()
    done = run_vbench(
        "compare", args.config, args.config, "--scenario", args.scenario, "--trials",
        str(args.trials), "--duration", args.duration, "--profiled-trials", "0", "--out", scratch,
        check=True,
    )  # fmt: skip
    comparison = json.loads((printed_path(done) / "comparison.json").read_text())
    metrics = {m["metric"]: m for m in comparison["comparisons"][0]["metrics"]}
    p99 = metrics["p99"]
    return Repetition(
        number=number,
        ratio=p99["ratio"],
        ci_low=p99["ci_low"],
        ci_high=p99["ci_high"],
        called=[n for n in LATENCY if metrics[n]["verdict"] in ("better", "worse")],
        wall_s=time.monotonic() - began,
    )


def report(reps: list[Repetition], config: str) -> str:
    """The table benchmarks/README.md quotes, and the count of false alarms."""
    lines = [
        "| rep | p99 ratio | 95% CI | latency difference called | wall |",
        "|---:|---:|---|---|---:|",
    ]
    for r in reps:
        lines.append(f"| {r.number} | {r.ratio:.3f} | {r.ci_low:.3f}–{r.ci_high:.3f} | "
                     f"{', '.join(r.called) or 'none'} | {r.wall_s:.0f} s |")  # fmt: skip
    false_positives = sum(1 for r in reps if r.called)
    lines += ["", f"{config} vs {config}: a latency difference was called in "
                  f"{false_positives} of {len(reps)} repetitions (target: at most 1)."]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--trials", type=int, default=6)  # the fewest that compare pairs
    parser.add_argument("--scenario", default="smoke")
    parser.add_argument("--duration", default="5s")
    parser.add_argument("--config", default="tuned")
    args = parser.parse_args()
    reps = []
    with transcript() as printed:
        with tempfile.TemporaryDirectory() as scratch:
            for number in range(1, args.reps + 1):
                r = repetition(number, args, scratch)
                reps.append(r)
                print(f"rep {number}: p99 ratio {r.ratio:.3f} (CI {r.ci_low:.3f}-"
                      f"{r.ci_high:.3f}) called: {r.called or 'nothing'}", flush=True)  # fmt: skip
        table = report(reps, args.config)
        print(f"\n{table}")
    publish("compare_aa", printed.getvalue(), table)


if __name__ == "__main__":
    main()
