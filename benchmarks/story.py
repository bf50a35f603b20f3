"""The incident, reproduced: default vs tuned under the `overload` scenario, beside the story.

Runs `vbench compare default tuned --scenario overload` (interleaved trials, plus one
memory-profiled and one CPU-profiled trial per side), or reads a finished compare directory,
and prints the story's figures next to the measured ones.

    python benchmarks/story.py [--trials 3] [--duration 30s] [--from COMPARE_DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from statistics import median
from typing import Any

STORY = {  # the incident report's figures: default -> tuned
    "p99 latency": ("~500 ms", "~50 ms"),
    "allocations per second": ("~10,000", "~1,000"),
    "handler share of CPU": ("", "~10%"),
    "resident memory": ("runs away", "~500 MB"),
}


def run_compare(trials: int, duration: str | None, out: Path) -> Path:
    command = [
        sys.executable, "-m", "veltrix_bench", "compare", "default", "tuned",
        "--scenario", "overload", "--trials", str(trials), "--profiled-trials", "1",
        "--out", str(out),
    ]  # fmt: skip
    if duration:
        command += ["--duration", duration]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return Path(done.stdout.strip().splitlines()[-1])


def side_figures(run_dirs: list[str]) -> dict[str, Any]:
    summaries = [json.loads((Path(d) / "summary.json").read_text()) for d in run_dirs]
    plain = [s for s in summaries if not s["profiled"]]
    memory = next((s["memory"] for s in summaries if s.get("memory")), None)
    cpu = next((s["cpu"] for s in summaries if s.get("cpu")), None)
    layers = (memory or {}).get("per_event_by_layer") or {}
    return {
        "p99_ms": median(s["latency_ms"]["p99"] for s in plain),
        "throughput": median(s["requests"]["throughput_rps"] for s in plain),
        "max_queue": median(s["engine"]["max_queue_depth"] or 0 for s in plain),
        "peak_rss_mb": median(s["engine"]["peak_rss_mb"] or 0 for s in plain),
        "alloc_per_s": memory["allocations_per_s"] if memory else None,
        "alloc_per_event": memory["allocations_per_event"] if memory else None,
        "handler_storage_per_event": (layers.get("handler", 0) + layers.get("storage", 0))
        if layers
        else None,
        "handler_share": cpu["handler_share"] if cpu else None,
        "lost": sum(1 for s in summaries if not s["invariants"].get("acked_equals_persisted")),
        "trials": len(plain),
    }


def fmt(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--duration", default=None, help="override the 30 s window")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--from", dest="existing", type=Path, default=None)
    args = parser.parse_args()
    compare_dir = args.existing or run_compare(args.trials, args.duration, args.out)
    comparison = json.loads((compare_dir / "comparison.json").read_text())
    sides = {side["name"]: side_figures(side["run_dirs"]) for side in comparison["sides"]}
    d, t = sides["default"], sides["tuned"]
    ratio = lambda a, b: f"{a / b:.1f}x" if a and b else "–"  # noqa: E731
    print(comparison["comparisons"][0]["headline"])
    print()
    print("| figure | story: default → tuned | measured default | measured tuned | ratio |")
    print("|---|---|---:|---:|---:|")
    print(f"| p99 latency (intended time) | ~500 ms → ~50 ms | {d['p99_ms']:,.0f} ms | "
          f"{t['p99_ms']:,.1f} ms | {ratio(d['p99_ms'], t['p99_ms'])} |")  # fmt: skip
    print(f"| throughput | | {d['throughput']:,.0f}/s | {t['throughput']:,.0f}/s | |")
    print(f"| max queue depth | grows without bound → bounded | {d['max_queue']:,.0f} | "
          f"{t['max_queue']:,.0f} | |")  # fmt: skip
    print(f"| allocations per second (memory-profiled trial) | ~10,000 → ~1,000 | "
          f"{fmt(d['alloc_per_s'], '{:,.0f}')} | "
          f"{fmt(t['alloc_per_s'], '{:,.0f}')} | |")  # fmt: skip
    print(f"| allocations per event, whole process | | {fmt(d['alloc_per_event'], '{:,.0f}')} | "
          f"{fmt(t['alloc_per_event'], '{:,.0f}')} | "
          f"{ratio(d['alloc_per_event'], t['alloc_per_event'])} |")  # fmt: skip
    print(f"| allocations per event, handler + storage | | "
          f"{fmt(d['handler_storage_per_event'], '{:,.0f}')} | "
          f"{fmt(t['handler_storage_per_event'], '{:,.0f}')} | "
          f"{ratio(d['handler_storage_per_event'], t['handler_storage_per_event'])} |")  # fmt: skip
    print(f"| event handler share of CPU samples | → ~10% | {fmt(d['handler_share'], '{:.0%}')} | "
          f"{fmt(t['handler_share'], '{:.0%}')} | |")  # fmt: skip
    print(f"| engine peak RSS | runs away → ~500 MB | {d['peak_rss_mb']:,.0f} MB | "
          f"{t['peak_rss_mb']:,.0f} MB | |")  # fmt: skip
    print(f"| trials with lost events | | {d['lost']} | {t['lost']} | |")
    print(f"\n{d['trials']} unprofiled trials per side; compare directory: {compare_dir}")


if __name__ == "__main__":
    main()
