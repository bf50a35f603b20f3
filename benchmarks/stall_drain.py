"""What a stall costs the requests it holds beyond the stall itself: the post-stall burst.

One tuned engine with the periodic-stall fault, an aiohttp open-loop client at RATE for
DURATION that keeps every request's intended send time and answer time, and the stalls'
start and end from the engine's log (`fault: stalled the process for X ms`, stamped when a
stall ends). For each request the residual stall wait is how long after its intended time
the stall it arrived in ended (0 outside stalls); the excess is its latency minus that. The
model in co_fidelity.py assumes the excess of stalled requests is that of healthy ones.

    python -m benchmarks.stall_drain [--rate 200] [--duration 20] [--stall-ms 200] [--period-s 2]

Writes results/stall_drain.md and its table into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np

from benchmarks.harness import engine_running, logged_stalls, publish, script_parser
from veltrix_bench.engine.config import load_config


async def open_loop(url: str, rate: float, duration_s: float) -> np.ndarray:
    """Rows of (intended, sent, answered) epoch seconds, one per request."""
    rows: list[tuple[float, float, float]] = []
    connector = aiohttp.TCPConnector(limit=500)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(index: int, intended: float) -> None:
            body = {"id": f"d-{index}", "type": "join", "hunt": 1 + index % 4,
                    "player": 1 + index % 1000}  # fmt: skip
            sent = time.time()
            async with session.post(f"{url}/v1/events", json=body) as answer:
                await answer.read()
            rows.append((intended, sent, time.time()))

        start = time.time() + 0.5
        tasks = []
        for index in range(int(rate * duration_s)):
            intended = start + index / rate
            wait = intended - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(index, intended)))
        await asyncio.gather(*tasks)
    return np.array(rows)


def stall_windows(log: Path) -> list[tuple[float, float]]:
    """(start, end) epoch seconds of every stall the engine logged (stamped when it ended)."""
    return [(end - ms / 1000, end) for end, ms in logged_stalls(log)]


def excess_table(
    rows: np.ndarray, windows: list[tuple[float, float]], args: argparse.Namespace
) -> str:
    """Each request's latency beyond its residual stall wait, stalled and not, as Markdown."""
    intended, answered = rows[:, 0], rows[:, 2]
    latency_ms = (answered - intended) * 1000
    residual_ms = np.zeros(len(rows))
    for began, ended in windows:
        inside = (intended >= began) & (intended < ended)
        residual_ms[inside] = (ended - intended[inside]) * 1000
    excess_ms = latency_ms - residual_ms
    stalled = residual_ms > 0

    def spread(values: np.ndarray) -> str:
        p50, p90, top = np.percentile(values, [50, 90, 100])
        return f"{p50:.1f} | {p90:.1f} | {top:.1f}"

    return "\n".join([
        f"tuned engine stalling {args.stall_ms:.0f} ms every {args.period_s:g} s; "
        f"{len(rows)} requests at {args.rate:.0f}/s over {args.duration:g} s "
        f"({len(windows)} stalls, median {np.median([e - b for b, e in windows]) * 1000:.1f} ms).",
        f"Latency p99 {np.percentile(latency_ms, 99):.1f} ms.",
        "",
        "| requests | count | excess over residual stall wait, ms: p50 | p90 | max |",
        "|---|---:|---:|---:|---:|",
        f"| arrived during a stall | {stalled.sum()} | {spread(excess_ms[stalled])} |",
        f"| arrived outside stalls | {(~stalled).sum()} | {spread(excess_ms[~stalled])} |",
    ])  # fmt: skip


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--stall-ms", type=float, default=200.0)
    parser.add_argument("--period-s", type=float, default=2.0)
    args = parser.parse_args()
    config = load_config("tuned").with_overrides(
        faults={"stall_ms": args.stall_ms, "stall_every_s": args.period_s}
    )
    with tempfile.TemporaryDirectory() as scratch:
        with engine_running(config, Path(scratch)) as engine:
            rows = asyncio.run(open_loop(engine.url, args.rate, args.duration))
        windows = stall_windows(engine.log_path)
    table = excess_table(rows, windows, args)
    print(table)
    publish("stall_drain", table)


if __name__ == "__main__":
    main()
