"""Does a second load generator process buy throughput? `--processes 1` vs `--processes 2`.

Both sides run the bundled `healthz` scenario (a custom locustfile: `GET /healthz`, the
engine's cheapest route) through `vbench run` against the embedded engine (tuned config):

1. closed loop, as fast as the users go (`--users U`): requests/s, sides alternated
   (1 2 1 2 ...) for `--rounds` rounds; medians reported;
2. open model, a rising ladder of rates: the highest rate each side sustains
   unsaturated (generator not saturated, achieved/target >= 0.97, no generator-caused
   late starts beyond 1%). If the target backs up first, the ladder says so.

    python -m benchmarks.scaleout            # ~10 min on 2 cores
    python -m benchmarks.scaleout --quick    # ~1 min smoke check

The engine shares the machine with the generators: on 2 cores the figures are a floor.
Writes results/scaleout.md (scaleout-quick.md with --quick; everything it printed) and its
table into benchmarks/README.md.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.harness import publish, run_vbench, script_parser, transcript

SCENARIO = "healthz"


def vbench_run(out: Path, processes: int, duration: str, *extra: str) -> dict[str, Any]:
    done = run_vbench(
        "run", "--scenario", SCENARIO, "--config", "tuned", "--duration", duration,
        "--processes", str(processes), "--out", str(out), *extra,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    run_dir = Path(lines[-1]) if lines else None
    if run_dir is None or not (run_dir / "summary.json").exists():
        raise SystemExit(f"vbench run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return summary


def closed_loop(out: Path, rounds: int, users: int, duration: str) -> dict[int, list[float]]:
    figures: dict[int, list[float]] = {1: [], 2: []}
    for round_number in range(rounds):
        for processes in (1, 2) if round_number % 2 == 0 else (2, 1):
            summary = vbench_run(out, processes, duration, "--users", str(users))
            rps = float(summary["requests"]["throughput_rps"])
            figures[processes].append(rps)
            print(f"  closed loop, {processes} process(es), {users} users: {rps:,.0f} req/s")
    return figures


def sustained(summary: dict[str, Any]) -> tuple[bool, str]:
    generator = summary["generator"]
    ratio = float(generator.get("achieved_rate_ratio") or 0.0)
    late = generator.get("late_starts", {}).get("generator", 0)
    total = max(1, summary["requests"]["total"])
    if generator.get("saturated"):
        return False, "generator saturated"
    if late > 0.01 * total:
        return False, f"{late} generator-late starts"
    if ratio < 0.97:
        backing_up = generator.get("target_backing_up")
        return False, f"achieved {ratio:.2f} of the target" + (
            " (the target backs up)" if backing_up else ""
        )
    return True, f"achieved {ratio:.2f}, p99 {summary['latency_ms']['p99']} ms"


def open_ladder(out: Path, rates: list[int], duration: str) -> dict[int, tuple[int | None, str]]:
    best: dict[int, tuple[int | None, str]] = {}
    for processes in (1, 2):
        highest: int | None = None
        why = "every rate sustained"
        for rate in rates:
            summary = vbench_run(out, processes, duration, "--rate", str(rate))
            ok, detail = sustained(summary)
            print(f"  open model, {processes} process(es), {rate:,}/s: {'ok' if ok else 'NO'}"
                  f" ({detail})")  # fmt: skip
            if not ok:
                why = f"{rate:,}/s failed: {detail}"
                break
            highest = rate
        best[processes] = (highest, why)
    return best


def report(closed: dict[int, list[float]], ladder: dict[int, tuple[int | None, str]]) -> str:
    """The table benchmarks/README.md quotes, and what the second process buys."""
    lines = [
        "| `--processes` | closed-loop requests/s (median) | highest open-model rate unsaturated |",
        "|---:|---:|---|",
    ]
    for processes in (1, 2):
        highest, why = ladder[processes]
        rate = f"{highest:,}/s" if highest else "none"
        lines.append(
            f"| {processes} | {statistics.median(closed[processes]):,.0f} | {rate} ({why}) |"
        )
    gain = statistics.median(closed[2]) / max(1.0, statistics.median(closed[1]))
    lines += ["", f"--processes 2 / --processes 1, closed loop: x{gain:.2f}"]
    return "\n".join(lines)


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--quick", action="store_true", help="short runs, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rounds, duration = args.rounds, args.duration
    rates = [1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000, 6000, 8000]
    if args.quick:
        rounds, duration, rates = 1, "3s", [500, 1000]
    out = args.out or Path(tempfile.mkdtemp(prefix="vbench-scaleout-"))
    with transcript() as printed:
        print(f"runs under {out}")
        closed = closed_loop(out, rounds, args.users, duration)
        ladder = open_ladder(out, rates, duration)
        table = report(closed, ladder)
        print(f"\n{table}")
    publish("scaleout-quick" if args.quick else "scaleout", printed.getvalue(), table)


if __name__ == "__main__":
    main()
