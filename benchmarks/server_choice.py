"""Which HTTP server serves the engine faster here: aiohttp (the engine's own) or uvicorn+Starlette.

Both serve the same engine objects (`Engine`: world, game rules, `Pipeline`, `Store`) with the
`tuned` config; the Starlette app below routes `POST /v1/events`, `GET /healthz`,
`GET /metrics` and `GET /v1/stats` to them exactly as `server.py` does for aiohttp. Each
measurement: a fresh server on a fresh SQLite file, every player joins its hunts, then `wrk`
(closed loop: 64 connections, 2 threads) posts single valid events with unique ids for
2 s of warm-up and 10 s measured. Servers alternate, three rounds; medians are reported.

    python -m benchmarks.server_choice              # ~3 min
    python -m benchmarks.server_choice --quick      # smoke check
    python -m benchmarks.server_choice --render benchmarks/results/server_choice.json

uvicorn runs with the asyncio loop and its h11 parser (its defaults here: uvloop and
httptools are not installed); with `httptools` importable a third contender runs with it.
`serve` is the child-process entry point for the Starlette contender.

Other processes share this machine's two cores: each row carries their CPU share, and the
server's CPU time per request, the figure least moved by that noise.

Writes the raw figures as JSON (`--out`), its table beside it (same name, `.md`) and into
benchmarks/README.md's block of that name.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib.util
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from benchmarks.harness import (
    HOST,
    REPO,
    add_json_options,
    json_path,
    least_disturbed,
    machine_busy_seconds,
    process_cpu_seconds,
    publish,
    script_parser,
)
from benchmarks.trial import MIX, HuntTraffic
from veltrix_bench.engine.config import EngineConfig, load_config
from veltrix_bench.engine.process import EngineProcess, start_engine
from veltrix_bench.engine.world import World

HAS_HTTPTOOLS = importlib.util.find_spec("httptools") is not None
HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None
_READY = re.compile(rb"VELTRIX READY port=(\d+) pid=(\d+)")


# -- the Starlette contender (runs in the child process) --------------------------------------
def starlette_app(config: EngineConfig, db_path: Path) -> Any:
    """The engine's event and health routes on Starlette, over the engine's own objects."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from veltrix_bench.engine.events import DECODERS, EventError
    from veltrix_bench.engine.pipeline import QueueFull, ShuttingDown
    from veltrix_bench.engine.server import Engine, _results_json

    engine = Engine(config, db_path)
    decode = DECODERS[config.http.decoder]  # the decoder the config names, as server.py does

    def error(status: int, field: str | None, message: str, **headers: str) -> Response:
        body = {"error": message, "field": field} if field else {"error": message}
        return JSONResponse(body, status_code=status, headers=headers)

    async def post_events(request: Request) -> Response:
        # Mirrors `Engine._post_events` in server.py step by step (no faults: tuned has none).
        started = time.perf_counter()
        if engine.stopping:
            return error(503, None, "engine is shutting down", **{"Retry-After": "1"})
        engine.requests_in_flight += 1
        try:
            body = await request.body()
            if len(body) > config.http.max_body_bytes:
                engine.metrics.bad_requests["413"] += 1
                limit = config.http.max_body_bytes
                return error(413, "body", f"request body over the limit of {limit} bytes")
            try:
                events = decode(body, config.world)
            except EventError as exc:
                engine.metrics.bad_requests["400"] += 1
                return error(400, exc.field, exc.message)
            try:
                results, fresh = await engine.pipeline.submit(events)
            except QueueFull:
                retry = str(config.queue.retry_after_s)
                return error(429, None, "event queue is full", **{"Retry-After": retry})
            except ShuttingDown:
                return error(503, None, "engine is shutting down", **{"Retry-After": "1"})
            body_out = _results_json(events, results)
            engine.pipeline.count_acknowledged(events, fresh)
            engine.metrics.request_latency.observe(time.perf_counter() - started)
            return Response(body_out, media_type="application/json")
        finally:
            engine.requests_in_flight -= 1

    async def healthz(request: Request) -> Response:
        if engine.stopping:
            return error(503, None, "engine is shutting down")
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        return Response(engine.metrics.exposition(), media_type="text/plain; charset=utf-8")

    async def stats(request: Request) -> Response:
        persisted = await engine.pipeline.persisted_by_type()
        return JSONResponse(
            {
                "acknowledged": {k: n for k, n in engine.pipeline.acknowledged.items() if n},
                "persisted": persisted,
                "duplicates": engine.pipeline.duplicates,
                "queue_depth": engine.pipeline.depth,
            }
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        engine.pipeline.start()
        yield
        engine.stopping = True
        await engine.pipeline.drain(config.shutdown.drain_timeout_s)
        engine.pipeline.close()

    return Starlette(
        routes=[
            Route("/v1/events", post_events, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            Route("/v1/stats", stats),
        ],
        lifespan=lifespan,
    )


def serve_starlette(config_file: Path, db_path: Path, http: str) -> None:
    import uvicorn

    from veltrix_bench.engine.config import load_config as load

    app = starlette_app(load(str(config_file)), db_path)
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it uvicorn's separate header and body writes wait out delayed ACKs (~40 ms).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        loop="asyncio",
        http=http,
        lifespan="on",
        access_log=False,
        log_level="warning",
        backlog=4096,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    # The socket listens already: connections wait in its backlog until uvicorn accepts.
    print(f"VELTRIX READY port={port} pid={os.getpid()}", flush=True)
    # uvicorn re-raises the SIGINT it handled once its graceful shutdown is done.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve(sockets=[listener]))


# -- launching the contenders -----------------------------------------------------------------
@dataclass(frozen=True)
class Contender:
    name: str
    server: str  # "aiohttp" or "starlette"
    http: str = ""  # uvicorn's parser for starlette


def start_contender(contender: Contender, config_file: Path, db: Path, log: Path) -> EngineProcess:
    if contender.server == "aiohttp":
        return start_engine(config_file, db, log, host=HOST)
    command = [
        sys.executable, "-m", "benchmarks.server_choice", "serve", "--http", contender.http,
        "--config", str(config_file), "--db", str(db),
    ]  # fmt: skip
    with log.open("ab") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=sink, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=REPO,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        found = _READY.search(log.read_bytes())
        if found:
            return EngineProcess(process, int(found.group(1)), int(found.group(2)), HOST, log)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{contender.name} did not start:\n{log.read_text(errors='replace')}")


# -- load -------------------------------------------------------------------------------------
def wrk_script(world: World, players: int, hunts_per_player: int, path: Path) -> None:
    """A wrk Lua script posting one valid event per request, ids unique per thread."""
    answers = ", ".join(
        "{" + ", ".join(json.dumps(a) for a in hunt.answers) + "}" for hunt in world.hunts
    )
    cumulative = []
    total = 0.0
    for kind, weight in MIX.items():
        total += weight
        cumulative.append((kind, total))
    cfg = world.config
    path.write_text(
        f"""
local thread_number = 0
function setup(thread)
  thread_number = thread_number + 1
  thread:set("thread_id", thread_number)
end

local answers = {{ {answers} }}
local next_clue = {{}}
local counter = 0
local headers = {{ ["Content-Type"] = "application/json" }}

function init(args)
  math.randomseed(thread_id * 7919)
end

request = function()
  counter = counter + 1
  local id = "w" .. thread_id .. "-" .. counter
  local m = math.random(0, {players * hunts_per_player} - 1)
  local player = math.floor(m / {hunts_per_player}) + 1
  local hunt = 1 + (player + m % {hunts_per_player}) % {cfg.hunts}
  local r = math.random()
  local body
  if r < {cumulative[0][1]} then
    body = string.format('{{"id": "%s", "type": "checkin", "hunt": %d, "player": %d, "place": %d}}',
      id, hunt, player, math.random(1, {cfg.places_per_hunt}))
  elseif r < {cumulative[1][1]} then
    local key = hunt * 100000000 + player
    local clue = next_clue[key] or 1
    if clue > {cfg.clues_per_hunt} then
      clue = {cfg.clues_per_hunt}
    else
      next_clue[key] = clue + 1
    end
    body = string.format('{{"id": "%s", "type": "solve", "hunt": %d, "player": %d, '
      .. '"clue": %d, "answer": "%s"}}', id, hunt, player, clue, answers[hunt][clue])
  elseif r < {cumulative[2][1]} then
    body = string.format('{{"id": "%s", "type": "hint", "hunt": %d, "player": %d, "clue": %d}}',
      id, hunt, player, math.random(1, {cfg.clues_per_hunt}))
  else
    body = string.format('{{"id": "%s", "type": "claim", "hunt": %d, "player": %d, '
      .. '"treasure": %d}}', id, hunt, player, math.random(1, {cfg.treasures_per_hunt}))
  end
  return wrk.format("POST", "/v1/events", headers, body)
end
"""
    )


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str
    wrk_cpu_pct: float
    server_cpu_pct: float
    others_cpu_pct: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(
    url: str,
    script: Path,
    duration_s: float,
    connections: int,
    threads: int,
    server_pid: int,
) -> WrkResult:
    server = psutil.Process(server_pid)
    server_before = process_cpu_seconds(server) or 0.0
    machine_before = machine_busy_seconds()
    started = time.monotonic()
    process = subprocess.Popen(
        [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s:g}s", "--latency",
            "-s", str(script), url + "/v1/events",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    wrk = psutil.Process(process.pid)
    wrk_cpu = 0.0
    while process.poll() is None:
        wrk_cpu = process_cpu_seconds(wrk) or wrk_cpu
        time.sleep(0.2)
    output = process.stdout.read() if process.stdout else ""
    wall = time.monotonic() - started
    server_cpu = (process_cpu_seconds(server) or 0.0) - server_before
    machine = machine_busy_seconds() - machine_before
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if total is None or "99" not in percentiles:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    seconds = float(total.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[total.group(3)]
    return WrkResult(
        requests=int(total.group(1)),
        duration_s=seconds,
        requests_per_s=round(int(total.group(1)) / seconds, 1),
        p50_ms=_ms(percentiles["50"]),
        p90_ms=_ms(percentiles["90"]),
        p99_ms=_ms(percentiles["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors.group(1).strip() if socket_errors else "",
        wrk_cpu_pct=round(100 * wrk_cpu / wall, 1),
        server_cpu_pct=round(100 * server_cpu / wall, 1),
        others_cpu_pct=round(100 * (machine - server_cpu - wrk_cpu) / wall, 1),
    )


def _post(url: str, body: bytes) -> Any:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


@dataclass(frozen=True)
class Measurement:
    contender: str
    round: int
    wrk: WrkResult
    acknowledged: int
    persisted: int
    exit_code: int | None
    log_problems: list[str]


def measure(
    contender: Contender,
    config: EngineConfig,
    round_number: int,
    warmup_s: float,
    duration_s: float,
    connections: int,
    threads: int,
    workdir: Path,
) -> Measurement:
    run_dir = Path(tempfile.mkdtemp(prefix=f"{contender.name}-", dir=workdir))
    config_file = run_dir / "engine.toml"
    config_file.write_text(config.to_toml())
    traffic = HuntTraffic(World.generate(config.world))
    script = run_dir / "events.lua"
    per_player = len(traffic.memberships) // config.world.players
    wrk_script(traffic.world, config.world.players, per_player, script)
    engine = start_contender(contender, config_file, run_dir / "veltrix.db", run_dir / "server.log")
    try:
        for batch in traffic.join_batches():
            _post(engine.url + "/v1/events", batch)
        if warmup_s:
            run_wrk(engine.url, script, warmup_s, connections, threads, engine.pid)
        result = run_wrk(engine.url, script, duration_s, connections, threads, engine.pid)
        stats = _get(engine.url + "/v1/stats")
    finally:
        exit_code = engine.stop(timeout=30)
    log = (run_dir / "server.log").read_text(errors="replace").splitlines()
    problems = [line for line in log if re.search(r"Traceback|ERROR|Error|exception", line)]
    return Measurement(
        contender=contender.name,
        round=round_number,
        wrk=result,
        acknowledged=sum(stats["acknowledged"].values()),
        persisted=sum(stats["persisted"].values()),
        exit_code=exit_code,
        log_problems=problems[:10],
    )


# -- report -----------------------------------------------------------------------------------
def summary_rows(measurements: list[Measurement], names: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        mine = [m for m in measurements if m.contender == name]
        rps = [m.wrk.requests_per_s for m in mine]
        rows.append(
            {
                "contender": name,
                "runs": len(mine),
                "rps_median": statistics.median(rps),
                "rps_min": min(rps),
                "rps_max": max(rps),
                "p50_ms": statistics.median(m.wrk.p50_ms for m in mine),
                "p99_ms": statistics.median(m.wrk.p99_ms for m in mine),
                "p99_min": min(m.wrk.p99_ms for m in mine),
                "p99_max": max(m.wrk.p99_ms for m in mine),
                "non_2xx": sum(m.wrk.non_2xx for m in mine),
                "server_cpu_pct": statistics.median(m.wrk.server_cpu_pct for m in mine),
                "wrk_cpu_pct": statistics.median(m.wrk.wrk_cpu_pct for m in mine),
                "others_cpu_pct": statistics.median(m.wrk.others_cpu_pct for m in mine),
                "server_cpu_us_per_request": statistics.median(
                    1e4 * m.wrk.server_cpu_pct / m.wrk.requests_per_s for m in mine
                ),
            }
        )
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    base = rows[0]["rps_median"]
    lines = [
        "| server | runs | requests/s (median, min–max) | vs aiohttp | p50 ms | "
        "p99 ms (median, min–max) | non-2xx | server CPU % | server CPU µs / request | "
        "wrk CPU % | others CPU % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['contender']} | {r['runs']} | {r['rps_median']:,.0f} "
            f"({r['rps_min']:,.0f}–{r['rps_max']:,.0f}) | {r['rps_median'] / base:.2f}× | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} ({r['p99_min']:.2f}–{r['p99_max']:.2f}) | "
            f"{r['non_2xx']:,} | {r['server_cpu_pct']:.0f} | "
            f"{r['server_cpu_us_per_request']:.0f} | {r['wrk_cpu_pct']:.0f} | "
            f"{r['others_cpu_pct']:.0f} |"
        )
    return "\n".join(lines)


def _print_measurement(m: Measurement) -> None:
    print(
        f"  round {m.round} {m.contender}: {m.wrk.requests_per_s:,.0f} req/s "
        f"p50 {m.wrk.p50_ms:.2f} p99 {m.wrk.p99_ms:.2f} ms non-2xx {m.wrk.non_2xx} "
        f"socket errors [{m.wrk.socket_errors}] | cpu server {m.wrk.server_cpu_pct}% "
        f"wrk {m.wrk.wrk_cpu_pct}% others {m.wrk.others_cpu_pct}% | acknowledged "
        f"{m.acknowledged} persisted {m.persisted} exit {m.exit_code}"
        + (f" | LOG {m.log_problems[0]}" if m.log_problems else ""),
        flush=True,
    )


def _parser() -> argparse.ArgumentParser:
    parser = script_parser(__file__, __doc__)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="(internal) run the Starlette contender")
    serve.add_argument("--http", default="h11")
    serve.add_argument("--config", type=Path, required=True)
    serve.add_argument("--db", type=Path, required=True)
    parser.add_argument("--config", default="tuned", help="preset or TOML file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--retries", type=int, default=1, help="reruns of a disturbed run")
    parser.add_argument("--quick", action="store_true", help="one round of 3 s")
    add_json_options(parser, "server_choice")
    return parser


def _measured(
    contender: Contender, config: EngineConfig, number: int, args: argparse.Namespace, tmp: Path
) -> Measurement:
    m = measure(
        contender, config, number, args.warmup, args.duration, args.connections, args.threads,
        tmp,
    )  # fmt: skip
    _print_measurement(m)
    return m


def measure_rounds(
    contenders: list[Contender], config: EngineConfig, args: argparse.Namespace
) -> list[Measurement]:
    """Every contender once per round, in order; a disturbed measurement is run again."""

    def again(m: Measurement) -> None:
        print(f"    disturbed (others {m.wrk.others_cpu_pct:.0f}%): again", flush=True)

    measurements: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="vbench-servers-") as tmp:
        for number in range(1, args.rounds + 1):
            for contender in contenders:
                attempt = functools.partial(_measured, contender, config, number, args, Path(tmp))
                best, _ = least_disturbed(
                    attempt, lambda m: m.wrk.others_cpu_pct, args.retries, again
                )
                measurements.append(best)
    return measurements


def publish_table(results: dict[str, Any], raw: Path) -> str:
    """The table beside the JSON (same name, .md) and in benchmarks/README.md's block."""
    table = markdown_table(results["summary"])
    publish(raw.stem, table, folder=raw.parent)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        serve_starlette(args.config, args.db, args.http)
        return 0
    if args.render is not None:
        print(publish_table(json.loads(args.render.read_text()), args.render))
        return 0
    if shutil.which("wrk") is None:
        print("server_choice: wrk is not installed", file=sys.stderr)
        return 2
    if args.quick:
        args.rounds, args.duration, args.warmup, args.retries = 1, 3.0, 1.0, 0
    config = load_config(args.config)
    contenders = [
        Contender("aiohttp", "aiohttp"),
        Contender("uvicorn+starlette (h11)", "starlette", "h11"),
    ]
    if HAS_HTTPTOOLS:
        contenders.append(Contender("uvicorn+starlette (httptools)", "starlette", "httptools"))
    print(
        f"config {config.name}; wrk -t{args.threads} -c{args.connections} {args.duration:g}s "
        f"after {args.warmup:g}s warm-up; httptools {'yes' if HAS_HTTPTOOLS else 'not installed'}"
        f", uvloop {'yes' if HAS_UVLOOP else 'not installed'}",
        flush=True,
    )
    measurements = measure_rounds(contenders, config, args)
    results = {
        "schema": "vbench.server_choice/1",
        "config": config.name,
        "wrk": {
            "connections": args.connections,
            "threads": args.threads,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
        },
        "httptools": HAS_HTTPTOOLS,
        "uvloop": HAS_UVLOOP,
        "summary": summary_rows(measurements, [c.name for c in contenders]),
        "runs": [asdict(m) for m in measurements],
    }
    out = json_path(args, "server_choice")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print()
    print(publish_table(results, out))
    print(f"\nraw figures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
