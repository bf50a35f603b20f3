"""A/A test of `vbench compare`: the same config on both sides must not be called different.

Runs `vbench compare tuned tuned` REPS times (interleaved trials each) and counts the
repetitions in which any latency metric (p50, p99, p99.9) was called better or worse.
Target: no latency difference called in at least 9 of 10 repetitions.

    python benchmarks/compare_aa.py [--reps 10] [--trials 5] [--scenario smoke] [--duration 5s]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LATENCY = ("p50", "p99", "p999")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--scenario", default="smoke")
    parser.add_argument("--duration", default="5s")
    parser.add_argument("--config", default="tuned")
    args = parser.parse_args()
    false_positives = 0
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for rep in range(1, args.reps + 1):
            began = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "veltrix_bench", "compare", args.config, args.config,
                 "--scenario", args.scenario, "--trials", str(args.trials), "--duration",
                 args.duration, "--profiled-trials", "0", "--out", scratch],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            compare_dir = Path(done.stdout.strip().splitlines()[-1])
            comparison = json.loads((compare_dir / "comparison.json").read_text())
            metrics = {m["metric"]: m for m in comparison["comparisons"][0]["metrics"]}
            called = [n for n in LATENCY if metrics[n]["verdict"] in ("better", "worse")]
            false_positives += bool(called)
            p99 = metrics["p99"]
            rows.append((rep, p99["ratio"], p99["ci_low"], p99["ci_high"], called,
                         time.monotonic() - began))  # fmt: skip
            print(f"rep {rep}: p99 ratio {p99['ratio']:.3f} (CI {p99['ci_low']:.3f}-"
                  f"{p99['ci_high']:.3f}) called: {called or 'nothing'}", flush=True)  # fmt: skip
    print("\n| rep | p99 ratio | 95% CI | latency difference called | wall |")
    print("|---:|---:|---|---|---:|")
    for rep, ratio, low, high, called, wall in rows:
        print(f"| {rep} | {ratio:.3f} | {low:.3f}–{high:.3f} | {', '.join(called) or 'none'} | "
              f"{wall:.0f} s |")  # fmt: skip
    print(f"\n{args.config} vs {args.config}: a latency difference was called in "
          f"{false_positives} of {args.reps} repetitions (target: at most 1).")  # fmt: skip


if __name__ == "__main__":
    main()
