"""What a stall costs the requests it holds beyond the stall itself: the post-stall burst.

One tuned engine with the periodic-stall fault, an aiohttp open-loop client at RATE for
DURATION that keeps every request's intended send time and answer time, and the stalls'
start and end from the engine's log (`fault: stalled the process for X ms`, stamped when a
stall ends). For each request the residual stall wait is how long after its intended time
the stall it arrived in ended (0 outside stalls); the excess is its latency minus that. The
model in co_fidelity.py assumes the excess of stalled requests is that of healthy ones.

    python benchmarks/stall_drain.py [--rate 200] [--duration 20] [--stall-ms 200] [--period-s 2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine_capacity  # noqa: E402

from veltrix_bench.engine.config import load_config  # noqa: E402
from veltrix_bench.engine.process import start_engine  # noqa: E402


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
    return [(end - ms / 1000, end) for end, ms in engine_capacity.logged_stalls(log)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--stall-ms", type=float, default=200.0)
    parser.add_argument("--period-s", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        config = load_config("tuned").with_overrides(
            faults={"stall_ms": args.stall_ms, "stall_every_s": args.period_s}
        )
        (folder / "engine.toml").write_text(config.to_toml())
        engine = start_engine(folder / "engine.toml", folder / "db.sqlite", folder / "engine.log")
        try:
            rows = asyncio.run(open_loop(engine.url, args.rate, args.duration))
        finally:
            engine.stop()
        windows = stall_windows(folder / "engine.log")
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

    print(f"tuned engine stalling {args.stall_ms:.0f} ms every {args.period_s:g} s; "
          f"{len(rows)} requests at {args.rate:.0f}/s over {args.duration:g} s "
          f"({len(windows)} stalls, median {np.median([e - b for b, e in windows]) * 1000:.1f} ms)."
          f"\nLatency p99 {np.percentile(latency_ms, 99):.1f} ms.\n")  # fmt: skip
    print("| requests | count | excess over residual stall wait, ms: p50 | p90 | max |")
    print("|---|---:|---:|---:|---:|")
    print(f"| arrived during a stall | {stalled.sum()} | {spread(excess_ms[stalled])} |")
    print(f"| arrived outside stalls | {(~stalled).sum()} | {spread(excess_ms[~stalled])} |")


if __name__ == "__main__":
    main()
