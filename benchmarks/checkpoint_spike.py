"""The periodic latency spike of SQLite's automatic WAL checkpoint, with and without `tuned`'s
background checkpointer.

For each config (alternated: auto, background, auto, ...) a fresh engine on a fresh file gets
200 checkin events/s for 10 s from an open-loop asyncio client (each request sent on
schedule); it prints how many requests took over 16 ms (about twice `tuned`'s p50 with its
5 ms batch wait) and when they were due.

    python -m benchmarks.checkpoint_spike [--rounds 1]

Writes results/checkpoint_spike.md (what it printed) and the same into benchmarks/README.md.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.harness import engine_running, publish, script_parser, transcript
from veltrix_bench.engine.config import load_config

RATE, SECONDS, SLOW_MS, PLAYERS = 200, 10, 16.0, 200


async def probe(url: str) -> list[tuple[float, float]]:
    """(seconds into the run it was due, latency ms) of every request."""
    latencies: list[tuple[float, float]] = []
    async with aiohttp.ClientSession() as session:
        for player in range(1, PLAYERS + 1):
            join = {"id": f"j{player}", "type": "join", "hunt": 1 + player % 4, "player": player}
            async with session.post(f"{url}/v1/events", json=join) as answer:
                await answer.read()
        start = time.perf_counter()

        async def one(index: int, due: float) -> None:
            player = 1 + index % PLAYERS
            event = {"id": f"e{index}", "type": "checkin", "hunt": 1 + player % 4,
                     "player": player, "place": 1}  # fmt: skip
            async with session.post(f"{url}/v1/events", json=event) as answer:
                await answer.read()
            latencies.append((due - start, (time.perf_counter() - due) * 1000))

        sends = []
        for index in range(RATE * SECONDS):
            due = start + index / RATE
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sends.append(asyncio.create_task(one(index, due)))
        await asyncio.gather(*sends)
    return sorted(latencies)


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with transcript() as printed:
        for _ in range(args.rounds):
            for checkpoint in ("auto", "background"):
                config = load_config("tuned").with_overrides(storage={"checkpoint": checkpoint})
                with (
                    tempfile.TemporaryDirectory() as scratch,
                    engine_running(config, Path(scratch)) as engine,
                ):
                    latencies = asyncio.run(probe(engine.url))
                slow = [(round(t, 2), round(ms, 1)) for t, ms in latencies if ms > SLOW_MS]
                print(f"checkpoint = {checkpoint:10}: {len(slow)} of {len(latencies)} requests "
                      f"over {SLOW_MS:g} ms; (due at s, ms): {slow[:20]}", flush=True)  # fmt: skip
    publish("checkpoint_spike", printed.getvalue())


if __name__ == "__main__":
    main()
