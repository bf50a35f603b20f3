"""Does tuned's resident memory stay flat under a long run of new event ids? (issue 13)

Every event id the engine answers is kept for idempotency; before the bound (storage.
recent_results) the map grew by ~200 bytes per id for the life of the process, ~0.4 MB/s at
2,000/s. Here a tuned engine on a fresh SQLite file takes single-event checkins with unique
ids at RATE for DURATION seconds; its RSS is sampled once a second. Reported: the slope of
RSS over time after the warm-up (least squares over one-minute medians, since samples a
second apart are not independent) with its 95% confidence interval, the spread of the
samples, and what an unbounded map would have added at this rate.

    python -m benchmarks.idempotency_memory                          # the figure: 10 min
    python -m benchmarks.idempotency_memory --duration 10 --rate 200 # a smoke check

Writes results/idempotency_memory.md (everything it printed) and its table into
benchmarks/README.md.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil
from scipy import stats

from benchmarks.harness import machine_busy_seconds, publish, script_parser, transcript
from veltrix_bench.engine.config import load_config
from veltrix_bench.engine.process import EngineProcess, start_engine

UNBOUNDED_BYTES_PER_ID = 200  # measured before the bound (issue 13)
CONNECTIONS = 64
PLAYERS = 2000


def _request(port: int, body: bytes) -> bytes:
    return (
        f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> int:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    await reader.readexactly(length)
    return int(head[9:12])


async def _join_everyone(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for first in range(1, PLAYERS + 1, 500):
        joins = [{"id": f"j{p}", "type": "join", "hunt": 1, "player": p}
                 for p in range(first, min(first + 500, PLAYERS + 1))]  # fmt: skip
        assert await _exchange(reader, writer, _request(port, json.dumps(joins).encode())) == 200
    writer.close()


async def _load(engine: EngineProcess, rate: float, duration: float) -> dict[str, object]:
    """Checkins with unique ids on a fixed schedule; RSS once a second."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    total = int(rate * duration)
    next_index = 0
    statuses: Counter[int] = Counter()
    rss: list[tuple[float, int]] = []
    process = psutil.Process(engine.pid)

    async def connection() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection("127.0.0.1", engine.port)
        while next_index < total:
            index, next_index = next_index, next_index + 1
            await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
            event = {"id": f"m{index}", "type": "checkin", "hunt": 1,
                     "player": 1 + index % PLAYERS, "place": 1 + index % 10}  # fmt: skip
            payload = _request(engine.port, json.dumps(event).encode())
            statuses[await _exchange(reader, writer, payload)] += 1
        writer.close()

    async def sample() -> None:
        while loop.time() < start + duration:
            rss.append((loop.time() - start, process.memory_info().rss))
            await asyncio.sleep(1.0)

    began = time.monotonic()
    sampler = loop.create_task(sample())
    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    took = time.monotonic() - began
    await sampler
    return {"statuses": dict(statuses), "achieved_rate": sum(statuses.values()) / took, "rss": rss}


def _slope(rss: list[tuple[float, int]], warmup_s: float) -> dict[str, float | int]:
    """MB per minute after the warm-up, from one-minute medians, with a 95% interval."""
    minutes: dict[int, list[int]] = {}
    for t, value in rss:
        if t >= warmup_s:
            minutes.setdefault(int((t - warmup_s) // 60), []).append(value)
    points = [(m + 0.5, statistics.median(v) / 1e6) for m, v in sorted(minutes.items())]
    settled = [value / 1e6 for t, value in rss if t >= warmup_s]
    if len(points) < 3:  # a smoke run: too short for minute medians, fit the seconds
        points = [(t / 60, value / 1e6) for t, value in rss if t >= warmup_s]
    fit = stats.linregress([p[0] for p in points], [p[1] for p in points])
    half = stats.t.ppf(0.975, len(points) - 2) * fit.stderr
    return {
        "points": len(points),
        "slope_mb_per_min": fit.slope,
        "ci95_low": fit.slope - half,
        "ci95_high": fit.slope + half,
        "rss_min_mb": min(settled),
        "rss_max_mb": max(settled),
    }


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument(
        "--warmup", type=float, help="seconds left out of the fit (default: 1.5 x map filling)"
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--config", default="tuned", help="preset or TOML file (tuned)")
    args = parser.parse_args()
    config = load_config(args.config)
    fill_s = config.storage.recent_results / args.rate
    warmup = args.warmup if args.warmup is not None else min(1.5 * fill_s, args.duration / 2)
    busy_before, began = machine_busy_seconds(), time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "engine.toml").write_text(config.to_toml())
        engine = start_engine(folder / "engine.toml", folder / "v.db", folder / "engine.log")
        try:
            asyncio.run(_join_everyone(engine.port))
            run = asyncio.run(_load(engine, args.rate, args.duration))
        finally:
            engine.stop()
    busy_cores = (machine_busy_seconds() - busy_before) / (time.monotonic() - began)
    rss = run["rss"]
    assert isinstance(rss, list)
    figures = {
        "config": config.name,
        "rate": args.rate,
        "duration_s": args.duration,
        "warmup_s": warmup,
        "recent_results": config.storage.recent_results,
        "achieved_rate": run["achieved_rate"],
        "statuses": run["statuses"],
        **_slope(rss, warmup),
        "unbounded_mb_per_min": UNBOUNDED_BYTES_PER_ID * args.rate * 60 / 1e6,
        "machine_busy_cores": round(busy_cores, 2),
        "rss_samples": rss,
    }
    achieved, answers, points = figures["achieved_rate"], figures["statuses"], figures["points"]
    table = "\n".join([
        "| config | rate | achieved | run | RSS slope after warm-up | 95% CI | RSS range "
        "| unbounded map would add | machine busy (cores) |",
        "|---|---:|---:|---:|---:|---|---|---:|---:|",
        f"| {config.name} | {args.rate:,.0f}/s | {achieved:,.0f}/s | {args.duration:g} s | "
        f"{figures['slope_mb_per_min']:+.3f} MB/min | {figures['ci95_low']:+.3f} .. "
        f"{figures['ci95_high']:+.3f} | {figures['rss_min_mb']:.1f} .. "
        f"{figures['rss_max_mb']:.1f} MB | ~{figures['unbounded_mb_per_min']:.0f} MB/min | "
        f"{figures['machine_busy_cores']} |",
    ])  # fmt: skip
    with transcript() as printed:
        print(
            f"{config.name} at {args.rate:g}/s for {args.duration:g} s (achieved {achieved:.0f}/s, "
            f"answers {answers}); fit after {warmup:g} s over {points} points:\n"
            f"  RSS slope {figures['slope_mb_per_min']:+.3f} MB/min "
            f"(95% CI {figures['ci95_low']:+.3f} .. {figures['ci95_high']:+.3f}), "
            f"RSS {figures['rss_min_mb']:.1f} .. {figures['rss_max_mb']:.1f} MB;\n"
            f"  an unbounded idempotency map would add "
            f"~{figures['unbounded_mb_per_min']:.0f} MB/min"
        )
        print(f"\n{table}")
    publish("idempotency_memory", printed.getvalue(), table)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
