"""What profiling costs the engine: the same load with no profiler, memray, and py-spy, alternated.

    python -m benchmarks.profiler_overhead --rounds 3 --seconds 10 --concurrency 32 --config tuned

Each round runs one measurement per mode, in the order none, memray, py-spy (A B C A B C ...),
each on a fresh engine and database, so drift on a shared machine spreads over all modes.
A measurement is a closed loop of `--concurrency` aiohttp clients posting valid events
(a join, then check-ins) for `--seconds`, with the profiler recording exactly as a
profiled `vbench run` does (vbench's ProfileSession: memray tracking the window, py-spy
sampling at 100 Hz in blocking mode). Reported per mode: throughput, and engine CPU seconds
per request (psutil on the engine's process: all its threads, plus any children),
each as the median over rounds and as a ratio to no profiler. py-spy's own CPU (a separate
process) is shown apart. Writes results/profiler_overhead.md and its table into
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil

from benchmarks.harness import engine_running, process_cpu_seconds, publish, script_parser
from veltrix_bench.engine.config import load_config
from veltrix_bench.profile import ProfileSession

MODES = ("none", "memray", "py-spy")
SESSION_KINDS = {"none": set(), "memray": {"memory"}, "py-spy": {"cpu"}}
WARMUP_S = 1.0


@dataclass(frozen=True)
class Measurement:
    mode: str
    round: int
    requests: int
    seconds: float
    engine_cpu_s: float
    profiler_cpu_s: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_per_request_ms(self) -> float:
        return 1000 * self.engine_cpu_s / self.requests if self.requests else float("nan")


def cpu_seconds(process: psutil.Process) -> float:
    """The engine's CPU: all its threads, plus any children it waited for."""
    return process_cpu_seconds(process, children=True) or 0.0


async def closed_loop(url: str, concurrency: int, seconds: float, tag: str) -> int:
    """`concurrency` clients, each posting its next event as soon as the last is answered."""
    ok = 0
    stop_at = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client(number: int) -> None:
            nonlocal ok
            player = number + 1  # one player per client: join once, then check in
            for sequence in itertools.count():
                if time.monotonic() >= stop_at:
                    return
                event: dict[str, object] = {
                    "id": f"{tag}-{number}-{sequence}", "hunt": 1, "player": player,
                    **({"type": "join"} if sequence == 0 else
                       {"type": "checkin", "place": sequence % 10 + 1}),
                }  # fmt: skip
                async with session.post(f"{url}/v1/events", json=event) as answer:
                    await answer.read()
                    if answer.status == 200:
                        ok += 1

        await asyncio.gather(*(client(n) for n in range(concurrency)))
    return ok


def measure(mode: str, round_: int, args: argparse.Namespace, work: Path) -> Measurement:
    run_dir = work / f"{mode}-{round_}"
    run_dir.mkdir()
    session = ProfileSession(run_dir, SESSION_KINDS[mode])
    with engine_running(
        load_config(args.config), run_dir, wrapper=session.engine_wrapper()
    ) as engine:
        try:
            process = psutil.Process(engine.pid)
            session.begin_window(engine.pid)
            if session.skipped:
                sys.exit(f"{mode}: profiler unavailable: {session.skipped}")
            # Warm-up (connections, first joins) inside the profiled window, outside the count.
            asyncio.run(closed_loop(engine.url, args.concurrency, WARMUP_S, f"w{round_}"))
            pyspy = session.pyspy.process
            profiler = psutil.Process(pyspy.pid) if pyspy else None
            cpu_before = cpu_seconds(process)
            profiler_before = cpu_seconds(profiler) if profiler else 0.0
            started = time.monotonic()
            requests = asyncio.run(
                closed_loop(engine.url, args.concurrency, args.seconds, f"m{round_}")
            )
            elapsed = time.monotonic() - started
            engine_cpu = cpu_seconds(process) - cpu_before
            profiler_cpu = cpu_seconds(profiler) - profiler_before if profiler else 0.0
            session.end_window()
        finally:
            session.end_window()
    return Measurement(mode, round_, requests, elapsed, engine_cpu, profiler_cpu)


def ratio(values: list[Measurement], baseline: list[Measurement], key: Callable[..., float]) -> str:
    return f"{statistics.median(map(key, values)) / statistics.median(map(key, baseline)):.2f}×"


def markdown(results: list[Measurement], args: argparse.Namespace) -> str:
    by_mode = {mode: [m for m in results if m.mode == mode] for mode in MODES}
    base = by_mode["none"]
    lines = [
        f"Profiler overhead: `{args.config}` preset, {args.concurrency} closed-loop clients, "
        f"{args.seconds:.0f} s per measurement, {args.rounds} rounds alternated "
        f"({' '.join(MODES)} ...); medians over rounds.",
        "",
        "| profiler | throughput (req/s) | vs none | engine CPU ms/request | vs none "
        "| profiler's own CPU s | per round (req/s) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for mode, values in by_mode.items():
        throughput = statistics.median(m.throughput for m in values)
        cpu = statistics.median(m.cpu_per_request_ms for m in values)
        own = (
            f"{statistics.median(m.profiler_cpu_s for m in values):.2f}"
            if mode == "py-spy"
            else ("in the engine's" if mode == "memray" else "–")
        )
        rounds = ", ".join(f"{m.throughput:.0f}" for m in values)
        lines.append(
            f"| {mode} | {throughput:.0f} | {ratio(values, base, lambda m: m.throughput)} "
            f"| {cpu:.3f} | {ratio(values, base, lambda m: m.cpu_per_request_ms)} "
            f"| {own} | {rounds} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--config", default="tuned", help="engine preset or TOML file")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="vbench-overhead-") as folder:
        for round_ in range(1, args.rounds + 1):
            for mode in MODES:
                result = measure(mode, round_, args, Path(folder))
                print(
                    f"round {round_} {mode:7}: {result.throughput:7.0f} req/s, "
                    f"{result.cpu_per_request_ms:.3f} ms CPU/request",
                    file=sys.stderr,
                    flush=True,
                )
                results.append(result)
    table = markdown(results, args)
    print(table)
    publish("profiler_overhead", table)


if __name__ == "__main__":
    main()
