"""How long the engine's garbage collections pause it, with Python's thresholds and quiet.

`tuned` at RATE events/s (benchmarks/trial.py: the open-loop client and hunt traffic)
twice per round, once with `runtime.gc = "default"` (Python's 700/10/10) and once as it ships
(`"quiet"`), sides alternated. A `sitecustomize` module put on the engine's PYTHONPATH
registers a `gc.callbacks` hook that times every collection from its start to its stop, and
writes them per generation when the engine exits. Only collections after the engine's
start-up count (from its log line after READY): joins and the load window; the start-up
ones, including the one `quiet` makes before it freezes the heap, do not.

    python -m benchmarks.gc_pauses [--rate 4000] [--duration 10] [--rounds 2]

Writes results/gc_pauses.md (everything it printed) and its table into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks.harness import engine_log_epoch, publish, script_parser, transcript
from benchmarks.trial import Step
from benchmarks.trial import measure as measure_trial
from veltrix_bench.engine.config import load_config

HOOK = """
import atexit, gc, json, os, time

_pauses = {0: [], 1: [], 2: []}  # generation -> [(epoch at stop, ms)]
_started = [0.0]


def _time_collections(phase, info):
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        took = (time.perf_counter() - _started[0]) * 1000
        _pauses[info["generation"]].append((time.time(), took))


gc.callbacks.append(_time_collections)
atexit.register(lambda: open(os.environ["VBENCH_GC_PAUSES"], "w").write(json.dumps(_pauses)))
"""


def _ready_epoch(log: Path) -> float:
    """When the engine finished starting: its first log line after READY."""
    for line in log.read_text().splitlines():
        if " config " in line and ", database " in line:
            return engine_log_epoch(line)
    raise RuntimeError(f"no start-up line in {log}")


def measure(mode: str, rate: float, duration_s: float, trial: int, scratch: Path) -> dict[str, Any]:
    hook_dir = scratch / "hook"
    hook_dir.mkdir(exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(HOOK)
    out = scratch / f"pauses-{mode}-{trial}.json"
    env = {
        "PYTHONPATH": os.pathsep.join([str(hook_dir), os.environ.get("PYTHONPATH", "")]),
        "VBENCH_GC_PAUSES": str(out),
    }
    config = load_config("tuned").with_overrides(runtime={"gc": mode})
    run = measure_trial(
        Step(f"gc-{mode}", config, rate, 2.0, duration_s, trial, engine_env=env), scratch
    )
    ready = _ready_epoch(Path(run.engine_log))
    pauses = {
        int(g): [ms for stamp, ms in stamped if stamp >= ready]
        for g, stamped in json.loads(out.read_text()).items()
    }
    return {"mode": mode, "p99_ms": run.load.latency.p99, "achieved": run.load.achieved_rate,
            "engine_cpu_pct": run.load.target_cpu_pct, "pauses": pauses}  # fmt: skip


def report(runs: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """The table benchmarks/README.md quotes, with its setting and the longest pauses."""
    lines = [
        f"`tuned` at {args.rate:.0f} events/s for {args.duration:g} s (+2 s warm-up), "
        f"{args.rounds} rounds alternated; collections timed from gc.callbacks' start to "
        "stop, after the engine's start-up (joins and load).",
        "",
        "| runtime.gc | round | p99 ms | engine CPU % | gen0: count, max ms "
        "| gen1: count, max ms | gen2: count, max ms | collection time, total ms |",
        "|---|---:|---:|---:|---|---|---|---:|",
    ]
    for index, run in enumerate(runs):
        cells = [
            f"{len(ms)}, {max(ms):.1f}" if ms else "0, –"
            for ms in (run["pauses"][g] for g in (0, 1, 2))
        ]
        total = sum(sum(ms) for ms in run["pauses"].values())
        lines.append(f"| {run['mode']} | {index // 2 + 1} | {run['p99_ms']:.1f} | "
                     f"{run['engine_cpu_pct']} | {' | '.join(cells)} | {total:.0f} |")  # fmt: skip
    lines.append("")
    for mode in ("default", "quiet"):
        longest = [max((max(ms) for ms in r["pauses"].values() if ms), default=0.0)
                   for r in runs if r["mode"] == mode]  # fmt: skip
        lines.append(f"{mode}: longest collection per run, median {median(longest):.1f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--rate", type=float, default=4000.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    with transcript() as printed:
        with tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp)
            for round_index in range(args.rounds):
                modes = ("default", "quiet") if round_index % 2 == 0 else ("quiet", "default")
                for mode in modes:
                    runs.append(measure(mode, args.rate, args.duration, round_index, scratch))
                    run = runs[-1]
                    print(f"round {round_index + 1} {mode:>7}: p99 {run['p99_ms']:.1f} ms, "
                          f"achieved {run['achieved']:.0f}/s, engine CPU {run['engine_cpu_pct']}%",
                          flush=True)  # fmt: skip
        table = report(runs, args)
        print(f"\n{table}")
    publish("gc_pauses", printed.getvalue(), table)


if __name__ == "__main__":
    main()
