"""The incident, reproduced: default vs tuned under the `overload` scenario, beside the story.

Runs `vbench compare default tuned --scenario overload` (interleaved trials, plus one
memory-profiled and one CPU-profiled trial per side), or reads a finished compare directory,
and prints the story's figures next to the measured ones.

    python -m benchmarks.story [--trials 3] [--duration 30s] [--scenario overload]
                               [--from COMPARE_DIR]

Writes results/story.md (results/story-NAME.md for `--scenario overload-NAME`) and the same into
benchmarks/README.md's block of that name.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks.harness import printed_path, publish, run_vbench, script_parser

STORY = {  # the incident report's figures: default -> tuned
    "p99 latency": ("~500 ms", "~50 ms"),
    "allocations per second": ("~10,000", "~1,000"),
    "handler share of CPU": ("", "~10%"),
    "resident memory": ("runs away", "~500 MB"),
}


def run_compare(trials: int, duration: str | None, scenario: str, out: Path) -> Path:
    command = [
        "compare", "default", "tuned", "--scenario", scenario, "--trials", str(trials),
        "--profiled-trials", "1", "--out", str(out),
    ]  # fmt: skip
    if duration:
        command += ["--duration", duration]
    return printed_path(run_vbench(*command, check=True))


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


def report(comparison: dict[str, Any], compare_dir: Path) -> str:
    """The story's figures beside the measured ones: what benchmarks/README.md quotes."""
    sides = {side["name"]: side_figures(side["run_dirs"]) for side in comparison["sides"]}
    d, t = sides["default"], sides["tuned"]

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.1f}x" if a and b else "–"

    return "\n".join([
        comparison["comparisons"][0]["headline"],
        "",
        "| figure | story: default → tuned | measured default | measured tuned | ratio |",
        "|---|---|---:|---:|---:|",
        f"| p99 latency (intended time) | ~500 ms → ~50 ms | {d['p99_ms']:,.0f} ms | "
        f"{t['p99_ms']:,.1f} ms | {ratio(d['p99_ms'], t['p99_ms'])} |",
        f"| throughput | | {d['throughput']:,.0f}/s | {t['throughput']:,.0f}/s | |",
        f"| max queue depth | grows without bound → bounded | {d['max_queue']:,.0f} | "
        f"{t['max_queue']:,.0f} | |",
        f"| allocations per second (memory-profiled trial) | ~10,000 → ~1,000 | "
        f"{fmt(d['alloc_per_s'], '{:,.0f}')} | {fmt(t['alloc_per_s'], '{:,.0f}')} | |",
        f"| allocations per event, whole process | | {fmt(d['alloc_per_event'], '{:,.0f}')} | "
        f"{fmt(t['alloc_per_event'], '{:,.0f}')} | "
        f"{ratio(d['alloc_per_event'], t['alloc_per_event'])} |",
        f"| allocations per event, handler + storage | | "
        f"{fmt(d['handler_storage_per_event'], '{:,.0f}')} | "
        f"{fmt(t['handler_storage_per_event'], '{:,.0f}')} | "
        f"{ratio(d['handler_storage_per_event'], t['handler_storage_per_event'])} |",
        f"| event handler share of CPU samples | → ~10% | {fmt(d['handler_share'], '{:.0%}')} | "
        f"{fmt(t['handler_share'], '{:.0%}')} | |",
        f"| engine peak RSS | runs away → ~500 MB | {d['peak_rss_mb']:,.0f} MB | "
        f"{t['peak_rss_mb']:,.0f} MB | |",
        f"| trials with lost events | | {d['lost']} | {t['lost']} | |",
        "",
        f"{d['trials']} unprofiled trials per side; compare directory: {compare_dir}",
    ])  # fmt: skip


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--duration", default=None, help="override the 30 s window")
    parser.add_argument(
        "--scenario", default="overload", help="a scenario (overload: the incident)"
    )
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--from", dest="existing", type=Path, default=None)
    args = parser.parse_args()
    compare_dir = args.existing or run_compare(args.trials, args.duration, args.scenario, args.out)
    comparison = json.loads((compare_dir / "comparison.json").read_text())
    table = report(comparison, compare_dir)
    print(table)
    publish(results_name(comparison), table)


def results_name(comparison: dict[str, Any]) -> str:
    """story for the overload scenario, story-2k for overload-2k, story-NAME for others."""
    first_run = Path(comparison["sides"][0]["run_dirs"][0])
    scenario = json.loads((first_run / "summary.json").read_text())["scenario"]
    return "story" if scenario == "overload" else f"story-{scenario.removeprefix('overload-')}"


if __name__ == "__main__":
    main()
