"""Capacity of the engine presets under open-model load: the rate ladder and a 30 s soak.

For each preset, a fresh engine on a fresh SQLite file per measurement: players join their
hunts, then single-event POSTs (checkin / solve / hint / claim, unique ids) arrive on a
fixed schedule whatever the engine does (see `_openloop.py`). Latency runs from the
intended send time. Presets alternate at every step (default, tuned, default, tuned ...).

    /work/venv/bin/python benchmarks/engine_capacity.py            # the full run (~25 min)
    /work/venv/bin/python benchmarks/engine_capacity.py --quick    # a smoke check (~2 min)

Prints Markdown tables and writes the raw figures as JSON (`--out`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import hashlib
import json
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _openloop  # noqa: E402
from _openloop import ClientKind, OpenLoopResult, run_open_loop  # noqa: E402

from veltrix_bench.engine.config import EngineConfig, load_config  # noqa: E402
from veltrix_bench.engine.process import EngineProcess, start_engine  # noqa: E402
from veltrix_bench.engine.world import World  # noqa: E402

HOST = "127.0.0.1"
P99_LIMIT_MS = 50.0
ACHIEVED_MIN = 0.95
DEFAULT_RATES = (100, 250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 7000, 8000)
CEILING_RATES = (2000, 4000, 6000, 8000)
SOAK_RATE = 2000
# The play mix once everyone has joined: weights of each event type.
MIX = {"checkin": 0.45, "solve": 0.25, "hint": 0.15, "claim": 0.15}
WRONG_ANSWER_SHARE = 0.1
HUNTS_PER_PLAYER = 2
# One connection per request in flight: the open-file limit (20,000 here, for the client and
# the engine alike) caps how many requests the engine can hold; the rest wait in the client.
MAX_CONNECTIONS = 15_000
JOIN_BATCH = 100
# Other engineers load this machine too: a measurement during which other processes used
# more than this share of a core (averaged over the window) is run again, up to RETRIES times,
# and the least disturbed attempt is kept (all attempts are in the JSON).
OTHERS_LIMIT_PCT = 50.0
RETRIES = 1


# -- traffic ----------------------------------------------------------------------------------
class HuntTraffic:
    """A seeded game: who joins which hunt, then a stream of valid single-event bodies.

    Bodies are made before the run (the send loop only sends). A player's clue progress
    advances as the engine would apply the stream in order; answers may race when a
    player's events are in flight together, which the engine then rejects as out of order.
    """

    def __init__(self, world: World, seed: int = 1) -> None:
        self.world = world
        self.rng = random.Random(seed)
        hunts = world.config.hunts
        self.memberships = [
            (1 + (player + k) % hunts, player)
            for player in range(1, world.config.players + 1)
            for k in range(min(HUNTS_PER_PLAYER, hunts))
        ]
        self.next_clue = dict.fromkeys(self.memberships, 1)
        self.kinds = list(MIX)
        self.weights = list(MIX.values())

    def join_batches(self) -> list[bytes]:
        joins = [
            {"id": f"j{i}", "type": "join", "hunt": hunt, "player": player}
            for i, (hunt, player) in enumerate(self.memberships)
        ]
        return [
            json.dumps(joins[at : at + JOIN_BATCH]).encode()
            for at in range(0, len(joins), JOIN_BATCH)
        ]

    def play(self, count: int) -> list[bytes]:
        rng = self.rng
        world = self.world
        memberships = self.memberships
        kinds = rng.choices(self.kinds, self.weights, k=count)
        bodies = []
        for index, kind in enumerate(kinds):
            hunt, player = memberships[rng.randrange(len(memberships))]
            event: dict[str, Any] = {
                "id": f"e{index}",
                "type": kind,
                "hunt": hunt,
                "player": player,
            }
            answers = world.hunt(hunt).answers
            clue = self.next_clue[(hunt, player)]
            if kind == "solve" and clue > len(answers):
                kind = event["type"] = "checkin"
            if kind == "checkin":
                event["place"] = rng.randint(1, world.config.places_per_hunt)
            elif kind == "hint":
                event["clue"] = min(clue, len(answers))
            elif kind == "claim":
                event["treasure"] = rng.randint(1, world.config.treasures_per_hunt)
            else:
                event["clue"] = clue
                if rng.random() < WRONG_ANSWER_SHARE:
                    event["answer"] = "not-" + answers[clue - 1]
                else:
                    event["answer"] = answers[clue - 1]
                    self.next_clue[(hunt, player)] = clue + 1
            bodies.append(json.dumps(event).encode())
        return bodies


# -- one measurement --------------------------------------------------------------------------
ENGINE_DIR = Path(__file__).resolve().parent.parent / "veltrix_bench" / "engine"


def engine_code_fingerprint() -> str:
    """A short hash of the engine's source and presets: others edit the engine meanwhile."""
    digest = hashlib.sha256()
    for path in sorted([*ENGINE_DIR.glob("*.py"), *ENGINE_DIR.glob("presets/*.toml")]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass
class Measurement:
    preset: str
    rate: float
    trial: int
    load: OpenLoopResult
    passed: bool
    join_s: float
    joins_applied: int
    stats_after: dict[str, Any]
    db_events: int  # rows in the events table after the engine stopped
    client_acked: int  # events the client saw answered 200 (joins + play, whole run)
    engine_exit: int | None
    stop_s: float
    engine_log: str  # the engine's log file (kept only while the run's work folder is)
    engine_log_problems: list[str]
    engine_log_tail: list[str]
    engine_code: str
    problems: list[str] = field(default_factory=list)
    others_cpu_of_attempts: list[float] = field(default_factory=list)

    @property
    def engine_cpu_pct(self) -> float | None:
        return self.load.target_cpu_pct


async def _join_everyone(session: aiohttp.ClientSession, url: str, batches: list[bytes]) -> int:
    applied = 0
    semaphore = asyncio.Semaphore(8)

    async def post(body: bytes) -> int:
        async with (
            semaphore,
            session.post(
                url + "/v1/events", data=body, headers={"Content-Type": "application/json"}
            ) as response,
        ):
            document = await response.json()
            if response.status != 200:
                raise RuntimeError(f"join answered {response.status}: {document}")
            return sum(r["status"] == "applied" for r in document["results"])

    for count in await asyncio.gather(*(post(b) for b in batches)):
        applied += count
    return applied


def _metrics_probe(session: aiohttp.ClientSession, url: str) -> _openloop.Probe:
    wanted = {"veltrix_queue_depth", "process_resident_memory_bytes"}

    async def probe() -> dict[str, float]:
        async with session.get(url + "/metrics") as response:
            text = await response.text()
        figures: dict[str, float] = {}
        processed = 0.0
        for family in text_string_to_metric_families(text):
            if family.name in wanted:
                figures[family.name] = family.samples[0].value
            elif family.name == "veltrix_events_processed":
                processed = sum(s.value for s in family.samples if s.name.endswith("_total"))
        figures["veltrix_events_processed_total"] = processed
        return figures

    return probe


ENGINE_LOG_TIME = "%Y-%m-%d %H:%M:%S,%f"  # the stamp engine/server.py puts on every log line
STALL_MARKER = "fault: stalled the process for "


def engine_log_epoch(line: str) -> float:
    """When the engine wrote this log line, as epoch seconds."""
    return datetime.datetime.strptime(line[:23], ENGINE_LOG_TIME).timestamp()


def logged_stalls(log: Path) -> list[tuple[float, float]]:
    """(epoch when it ended, length in ms) of every stall the engine's stall fault logged."""
    return [
        (engine_log_epoch(line), float(line.split(STALL_MARKER)[1].split(" ms")[0]))
        for line in log.read_text().splitlines()
        if STALL_MARKER in line
    ]


def _log_problems(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines()
    marks = ("Traceback", "ERROR", "Error", "exception", "Exception", "CRITICAL", "WARNING")
    return [line for line in lines if any(m in line for m in marks)][:20]


def _count_db_events(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def measure(
    preset: str,
    config: EngineConfig,
    rate: float,
    warmup_s: float,
    duration_s: float,
    trial: int,
    client: ClientKind,
    workdir: Path,
    engine_env: dict[str, str] | None = None,
) -> Measurement:
    """One fresh engine, joins, one open-model run; then the invariants and a clean stop.
    `engine_env`: extra environment for the engine process."""
    label = Path(preset).stem  # a preset name, or a config file's name without its folders
    run_dir = Path(tempfile.mkdtemp(prefix=f"{label}-{int(rate)}-", dir=workdir))
    config_file = run_dir / "engine.toml"
    config_file.write_text(config.to_toml())
    db_path = run_dir / "veltrix.db"
    traffic = HuntTraffic(World.generate(config.world), seed=trial)
    engine_code = engine_code_fingerprint()
    bodies = traffic.play(int(rate * (warmup_s + duration_s)) + 1)
    engine = start_engine(config_file, db_path, run_dir / "engine.log", host=HOST, env=engine_env)
    try:
        return asyncio.run(
            _measure_running(
                engine,
                preset,
                rate,
                warmup_s,
                duration_s,
                trial,
                client,
                traffic,
                bodies,
                db_path,
                engine_code,
            )
        )
    finally:
        if engine.alive():
            engine.stop(timeout=30)


async def _measure_running(
    engine: EngineProcess,
    preset: str,
    rate: float,
    warmup_s: float,
    duration_s: float,
    trial: int,
    client: ClientKind,
    traffic: HuntTraffic,
    bodies: list[bytes],
    db_path: Path,
    engine_code: str,
) -> Measurement:
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.monotonic()
        joins_applied = await _join_everyone(session, engine.url, traffic.join_batches())
        join_s = time.monotonic() - started
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=5), connector=aiohttp.TCPConnector(limit=1)
    ) as probe_session:
        load = await run_open_loop(
            HOST,
            engine.port,
            "/v1/events",
            bodies,
            rate,
            warmup_s,
            duration_s,
            client=client,
            max_connections=MAX_CONNECTIONS,
            target_pid=engine.pid,
            probe=_metrics_probe(probe_session, engine.url),
        )
        await asyncio.sleep(0.5)  # let answers to aborted requests settle in the engine
        try:
            async with probe_session.get(
                engine.url + "/v1/stats", timeout=aiohttp.ClientTimeout(total=60)
            ) as response:
                stats = await response.json()
        except (TimeoutError, aiohttp.ClientError) as exc:
            stats = {"error": f"{type(exc).__name__}: {exc}"}
    stop_started = time.monotonic()
    exit_code = engine.stop(timeout=30)
    stop_s = time.monotonic() - stop_started
    passed = (
        load.latency.p99 <= P99_LIMIT_MS
        and load.achieved_rate >= ACHIEVED_MIN * rate
        and load.outstanding_at_cutoff == 0
    )
    client_acked = joins_applied + sum(load.results.values())
    db_events = _count_db_events(db_path)
    measurement = Measurement(
        preset=preset,
        rate=rate,
        trial=trial,
        load=load,
        passed=passed,
        join_s=round(join_s, 2),
        joins_applied=joins_applied,
        stats_after=stats,
        db_events=db_events,
        client_acked=client_acked,
        engine_exit=exit_code,
        stop_s=round(stop_s, 2),
        engine_log=str(engine.log_path),
        engine_log_problems=_log_problems(engine.log_path),
        engine_log_tail=engine.last_log_lines(8),
        engine_code=engine_code,
    )
    measurement.problems.extend(_problems(measurement, len(traffic.memberships)))
    return measurement


def measure_undisturbed(
    preset: str,
    config: EngineConfig,
    rate: float,
    warmup_s: float,
    duration_s: float,
    trial: int,
    client: ClientKind,
    workdir: Path,
    retries: int,
) -> Measurement:
    """`measure`, again while other processes took more than OTHERS_LIMIT_PCT of a core."""
    attempts: list[Measurement] = []
    for attempt in range(retries + 1):
        m = measure(preset, config, rate, warmup_s, duration_s, trial, client, workdir)
        attempts.append(m)
        if m.load.others_cpu_pct <= OTHERS_LIMIT_PCT:
            break
        if attempt < retries:
            _print_step(m, note=f"disturbed (others {m.load.others_cpu_pct:.0f}%): again")
            time.sleep(3)
    best = min(attempts, key=lambda a: a.load.others_cpu_pct)
    best.others_cpu_of_attempts = [a.load.others_cpu_pct for a in attempts]
    return best


def _problems(m: Measurement, memberships: int) -> list[str]:
    """Engine behaviour that breaks the API's promises, as found in this measurement."""
    found = []
    if m.joins_applied != memberships:
        found.append(f"{m.joins_applied} of {memberships} joins applied")
    if m.db_events < m.client_acked:
        found.append(
            f"lost events: client got 200 for {m.client_acked}, database has {m.db_events}"
        )
    server_errors = {k: v for k, v in m.load.errors.items() if not k.startswith("4")}
    if server_errors:
        found.append(f"errors other than 4xx: {server_errors}")
    if m.engine_exit not in (0, None):
        found.append(f"engine exit code {m.engine_exit}")
    if m.engine_log_problems:
        found.append(f"engine log: {m.engine_log_problems[0][:160]}")
    acknowledged = m.stats_after.get("acknowledged")
    persisted = m.stats_after.get("persisted")
    if (
        isinstance(acknowledged, dict)
        and isinstance(persisted, dict)
        and not m.stats_after.get("queue_depth")
    ) and sum(persisted.values()) < sum(acknowledged.values()):
        found.append(f"/v1/stats: acknowledged {acknowledged} > persisted {persisted}")
    return found


def _print_step(m: Measurement, note: str = "") -> None:
    load = m.load
    verdict = note or ("pass" if m.passed else "FAIL")
    print(
        f"  {m.preset:>7} {int(m.rate):>5}/s trial {m.trial}: {verdict} achieved "
        f"{load.achieved_rate:.0f}/s p50 {load.latency.p50:.1f} p99 {load.latency.p99:.1f} ms "
        f"outstanding {load.outstanding_at_cutoff} errors {load.errors} | cpu client "
        f"{load.client_cpu_pct:.0f}% engine {load.target_cpu_pct}% machine "
        f"{load.machine_cpu_pct:.0f}% others {load.others_cpu_pct:.0f}% | late "
        f"{load.late_generator} lag {load.max_generator_lag_ms} ms | stop {m.stop_s}s "
        f"exit {m.engine_exit}" + (f" | PROBLEMS {m.problems}" if m.problems else ""),
        flush=True,
    )


# -- the client's own ceiling -------------------------------------------------------------------
def client_ceiling(
    rates: Sequence[int], warmup_s: float, duration_s: float, client: ClientKind, workdir: Path
) -> list[dict[str, Any]]:
    """The open-model client against a canned-answer asyncio server (no engine work)."""
    script = Path(__file__).resolve().parent / "_openloop.py"
    rows = []
    for rate in rates:
        canned = subprocess.Popen(
            [sys.executable, str(script), "canned"],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert canned.stdout is not None
        ready = re.search(rb"port=(\d+) pid=(\d+)", canned.stdout.readline())
        if ready is None:
            canned.kill()
            raise RuntimeError("canned server did not start")
        port, pid = int(ready.group(1)), int(ready.group(2))
        try:
            bodies = HuntTraffic(World.generate(load_config("tuned").world)).play(
                int(rate * (warmup_s + duration_s)) + 1
            )
            load = asyncio.run(
                run_open_loop(
                    HOST,
                    port,
                    "/v1/events",
                    bodies,
                    rate,
                    warmup_s,
                    duration_s,
                    client=client,
                    target_pid=pid,
                )
            )
        finally:
            canned.send_signal(signal.SIGINT)
            canned.wait(10)
        row = {
            "rate": rate,
            "achieved": load.achieved_rate,
            "p50_ms": load.latency.p50,
            "p99_ms": load.latency.p99,
            "client_cpu_pct": load.client_cpu_pct,
            "server_cpu_pct": load.target_cpu_pct,
            "machine_cpu_pct": load.machine_cpu_pct,
            "late_generator": load.late_generator,
            "max_generator_lag_ms": load.max_generator_lag_ms,
        }
        print(f"  canned {rate}/s: {row}", flush=True)
        rows.append(row)
    return rows


# -- the ladder and the soak --------------------------------------------------------------------
def _median_row(trials: list[Measurement]) -> dict[str, Any]:
    def med(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return round(statistics.median(present), 1) if present else None

    return {
        "preset": trials[0].preset,
        "rate": trials[0].rate,
        "trials": len(trials),
        "passed_trials": sum(m.passed for m in trials),
        "achieved": med([m.load.achieved_rate for m in trials]),
        "p50_ms": med([m.load.latency.p50 for m in trials]),
        "p99_ms": med([m.load.latency.p99 for m in trials]),
        "max_ms": med([m.load.latency.max for m in trials]),
        "errors": sum(sum(m.load.errors.values()) for m in trials),
        "error_kinds": sorted({kind for m in trials for kind in m.load.errors}),
        "others_cpu_pct": med([m.load.others_cpu_pct for m in trials]),
        "engine_cpu_us_per_answer": med(
            [
                1e4 * m.load.target_cpu_pct / m.load.achieved_rate
                if m.load.target_cpu_pct is not None and m.load.achieved_rate
                else None
                for m in trials
            ]
        ),
        "outstanding": med([m.load.outstanding_at_cutoff for m in trials]),
        "client_cpu_pct": med([m.load.client_cpu_pct for m in trials]),
        "engine_cpu_pct": med([m.load.target_cpu_pct for m in trials]),
        "machine_cpu_pct": med([m.load.machine_cpu_pct for m in trials]),
        "max_queue_depth": med(
            [
                max((s.probe.get("veltrix_queue_depth", 0) for s in m.load.seconds), default=0)
                for m in trials
            ]
        ),
        "late_generator": med([m.load.late_generator for m in trials]),
    }


def _step_passes(row: dict[str, Any]) -> bool:
    return row["passed_trials"] * 2 > row["trials"]


def ladder(
    presets: Sequence[str],
    configs: dict[str, EngineConfig],
    rates: Sequence[float],
    warmup_s: float,
    duration_s: float,
    trials: int,
    client: ClientKind,
    workdir: Path,
    retries: int,
) -> tuple[list[dict[str, Any]], list[Measurement]]:
    """Step the rate up, presets interleaved; a preset leaves after its second failed step."""
    failures = dict.fromkeys(presets, 0)
    rows: list[dict[str, Any]] = []
    everything: list[Measurement] = []
    for rate in rates:
        active = [p for p in presets if failures[p] < 2]
        if not active:
            break
        by_preset: dict[str, list[Measurement]] = {p: [] for p in active}
        for trial in range(1, trials + 1):
            for preset in active:
                m = measure_undisturbed(
                    preset,
                    configs[preset],
                    rate,
                    warmup_s,
                    duration_s,
                    trial,
                    client,
                    workdir,
                    retries,
                )
                _print_step(m)
                by_preset[preset].append(m)
                everything.append(m)
        for preset in active:
            row = _median_row(by_preset[preset])
            row["passed"] = _step_passes(row)
            if not row["passed"]:
                failures[preset] += 1
            rows.append(row)
    return rows, everything


def soak(
    presets: Sequence[str],
    configs: dict[str, EngineConfig],
    rate: float,
    warmup_s: float,
    duration_s: float,
    trials: int,
    client: ClientKind,
    workdir: Path,
    retries: int,
) -> dict[str, list[Measurement]]:
    runs: dict[str, list[Measurement]] = {p: [] for p in presets}
    for trial in range(1, trials + 1):
        for preset in presets:
            m = measure_undisturbed(
                preset, configs[preset], rate, warmup_s, duration_s, trial, client, workdir, retries
            )
            _print_step(m)
            runs[preset].append(m)
    return runs


def _trend(values: list[float]) -> float:
    """Least-squares slope per second over the series, skipping seconds without a figure."""
    series = np.asarray(values, dtype=float)
    seconds = np.arange(len(series))
    present = ~np.isnan(series)
    if present.sum() < 2:
        return float("nan")
    slope, _ = np.polyfit(seconds[present], series[present], 1)
    return float(slope)


def _rounded(value: float, digits: int) -> float | None:
    return None if np.isnan(value) else round(value, digits)


def soak_summary(run: dict[str, Any]) -> dict[str, Any]:
    """Trends over the soak window, from a measurement as plain data (`asdict`, or the JSON)."""
    load = run["load"]
    start, end = load["warmup_s"], load["warmup_s"] + load["duration_s"]
    window = [s for s in load["seconds"] if start < s["t"] <= end]
    depth = [s["probe"].get("veltrix_queue_depth", float("nan")) for s in window]
    rss = [s["probe"].get("process_resident_memory_bytes", float("nan")) / 1e6 for s in window]
    p99 = [s["p99_ms"] for s in window]
    known_depth = [d for d in depth if not np.isnan(d)]
    known_rss = [r for r in rss if not np.isnan(r)]
    return {
        "trial": run["trial"],
        "achieved": load["achieved_rate"],
        "p99_ms": load["latency"]["p99"],
        "queue_slope_per_s": _rounded(_trend(depth), 1),
        "queue_slope_first_10_s": _rounded(_trend(depth[:10]), 1),
        "p99_slope_ms_per_s": _rounded(_trend(p99), 2),
        "rss_slope_mb_per_s": _rounded(_trend(rss), 2),
        "queue_max": max(known_depth) if known_depth else None,
        "queue_last": known_depth[-1] if known_depth else None,
        "rss_last_mb": round(known_rss[-1], 1) if known_rss else None,
        "in_flight_last": window[-1]["in_flight"] if window else None,
    }


# -- Markdown ----------------------------------------------------------------------------------
def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def ladder_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| preset | offered /s | achieved /s | p50 ms | p99 ms | max ms | non-200 | "
        "max queue | client CPU % | engine CPU % | others CPU % | engine CPU µs / answer "
        "| verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        verdict = "pass" if r["passed"] else "**fail**"
        if r["trials"] > 1:
            verdict += f" ({r['passed_trials']}/{r['trials']})"
        errors = f"{r['errors']:,}" + (f" ({', '.join(r['error_kinds'])})" if r["errors"] else "")
        lines.append(
            f"| {r['preset']} | {int(r['rate']):,} | {_fmt(r['achieved'], 0)} | "
            f"{_fmt(r['p50_ms'])} | {_fmt(r['p99_ms'])} | {_fmt(r['max_ms'])} | {errors} | "
            f"{_fmt(r['max_queue_depth'], 0)} | {_fmt(r['client_cpu_pct'], 0)} | "
            f"{_fmt(r['engine_cpu_pct'], 0)} | {_fmt(r['others_cpu_pct'], 0)} | "
            f"{_fmt(r['engine_cpu_us_per_answer'], 0)} | {verdict} |"
        )
    return "\n".join(lines)


def capacity_table(rows: list[dict[str, Any]], presets: Sequence[str]) -> str:
    lines = [
        f"| preset | highest offered rate with p99 ≤ {P99_LIMIT_MS:.0f} ms and achieved ≥ "
        f"{ACHIEVED_MIN:.0%} | p99 there (ms) | first failing rate |",
        "|---|---:|---:|---:|",
    ]
    for preset in presets:
        mine = [r for r in rows if r["preset"] == preset]
        passing = [r for r in mine if r["passed"]]
        failing = [r for r in mine if not r["passed"]]
        best = max(passing, key=lambda r: r["rate"]) if passing else None
        best_rate = f"{int(best['rate']):,} /s" if best else "none"
        best_p99 = _fmt(best["p99_ms"]) if best else "–"
        first_fail = f"{int(failing[0]['rate']):,} /s" if failing else "none failed"
        lines.append(f"| {preset} | {best_rate} | {best_p99} | {first_fail} |")
    return "\n".join(lines)


def soak_table(run: dict[str, Any]) -> str:
    lines = [
        "| s | offered /s | achieved /s | p99 ms (answers that second) | queue depth | "
        "engine RSS MB | engine CPU % | in flight |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    load = run["load"]
    start = load["warmup_s"]
    for s in load["seconds"]:
        if s["t"] <= start or s["t"] > start + load["duration_s"]:
            continue
        depth = s["probe"].get("veltrix_queue_depth")
        rss = s["probe"].get("process_resident_memory_bytes")
        lines.append(
            f"| {s['t'] - int(start)} | {s['scheduled']:,} | {s['ok']:,} | {s['p99_ms']:,.1f} | "
            f"{_fmt(int(depth)) if depth is not None else '–'} | "
            f"{_fmt(rss / 1e6 if rss is not None else None, 0)} | "
            f"{_fmt(s['target_cpu_pct'], 0)} | {s['in_flight']:,} |"
        )
    return "\n".join(lines)


def soak_overview(soaked: dict[str, Any]) -> str:
    lines = [
        "| preset | trial | achieved /s | p99 ms (whole window) | max queue depth | "
        "queue slope /s (first 10 s) | p99 slope ms/s | RSS at end MB | RSS slope MB/s | "
        "in flight at end |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for preset, runs in soaked.items():
        for run in runs["runs"]:
            s = soak_summary(run)
            lines.append(
                f"| {preset} | {s['trial']} | {_fmt(s['achieved'], 0)} | {_fmt(s['p99_ms'])} | "
                f"{_fmt(s['queue_max'], 0)} | {_fmt(s['queue_slope_first_10_s'])} | "
                f"{_fmt(s['p99_slope_ms_per_s'], 2)} | {_fmt(s['rss_last_mb'], 0)} | "
                f"{_fmt(s['rss_slope_mb_per_s'], 2)} | {_fmt(s['in_flight_last'])} |"
            )
    return "\n".join(lines)


def render_markdown(report: dict[str, Any]) -> str:
    """The tables for the README, from the report as written to JSON."""
    markdown: list[str] = []
    if "client_ceiling" in report:
        markdown += [
            "### The client's own ceiling (canned 200 answers, no engine)",
            "",
            ceiling_table(report["client_ceiling"]),
            "",
        ]
    if "ladder" in report:
        markdown += [
            "### Capacity",
            "",
            capacity_table(report["ladder"], report["presets"]),
            "",
            "### Every step (medians over trials)",
            "",
            ladder_table(report["ladder"]),
            "",
        ]
    if "soak" in report:
        soaked = report["soak"]
        markdown += [
            f"### {SOAK_RATE:,} events/s for {report['soak_s']:.0f} s",
            "",
            soak_overview(soaked),
            "",
        ]
        cap = report.get("max_connections", MAX_CONNECTIONS)
        limit = report.get("open_file_limit", 20_000)
        if any(r["load"]["max_in_flight"] > cap for p in soaked.values() for r in p["runs"]):
            markdown += [
                f"A request in flight holds a connection, and the client opens at most {cap:,} "
                f"(the open-file limit is {limit:,} for client and "
                "engine alike): past that the engine's queue cannot grow, and the backlog waits "
                "in the client (the in-flight column), its wait still counted in the latency.",
                "",
            ]
        for preset, runs in soaked.items():
            ordered = sorted(runs["runs"], key=lambda r: r["load"]["latency"]["p99"])
            middle = ordered[len(ordered) // 2]
            markdown += [
                f"#### {preset}, per second (trial {middle['trial']}, the median p99)",
                "",
                soak_table(middle),
                "",
            ]
    if report.get("problems"):
        markdown += ["### Engine behaviour that broke a promise", ""]
        markdown += [f"- {p}" for p in report["problems"]] + [""]
    return "\n".join(markdown)


def ceiling_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| offered /s | achieved /s | p50 ms | p99 ms | client CPU % | canned server CPU % | "
        "machine CPU % | late sends |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['rate']:,} | {_fmt(r['achieved'], 0)} | {_fmt(r['p50_ms'], 2)} | "
            f"{_fmt(r['p99_ms'], 2)} | {_fmt(r['client_cpu_pct'], 0)} | "
            f"{_fmt(r['server_cpu_pct'], 0)} | {_fmt(r['machine_cpu_pct'], 0)} | "
            f"{r['late_generator']:,} |"
        )
    return "\n".join(lines)


# -- command line ------------------------------------------------------------------------------
def _git_head() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ENGINE_DIR,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip()


def _interrupt(signum: int, frame: object) -> None:
    # asyncio.run's own SIGINT handler only cancels the running task, and a cancellation
    # swallowed on the way leaves the ladder going; raising here ends it (each measurement
    # stops its engine in a `finally`).
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("engine_capacity: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="default,tuned", help="comma-separated presets")
    parser.add_argument("--rates", default=None, help="comma-separated offered rates (events/s)")
    parser.add_argument("--quick", action="store_true", help="short steps: a smoke check")
    parser.add_argument("--trials", type=int, default=None, help="runs per step (median)")
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw")
    parser.add_argument("--players", type=int, default=None, help="world size (default 2000)")
    parser.add_argument("--hunts", type=int, default=None, help="world size (default 4)")
    parser.add_argument(
        "--retries", type=int, default=None, help=f"reruns of a disturbed measurement ({RETRIES})"
    )
    parser.add_argument("--skip-ladder", action="store_true")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "results/engine_capacity.json"
    )
    parser.add_argument(
        "--render", type=Path, default=None, help="print the tables of an earlier JSON and stop"
    )
    args = parser.parse_args(argv)
    if args.render is not None:
        print(render_markdown(json.loads(args.render.read_text())))
        return 0

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    rates = [float(r) for r in args.rates.split(",")] if args.rates else list(DEFAULT_RATES)
    warmup_s, step_s, soak_s = (1.0, 3.0, 8.0) if args.quick else (2.0, 10.0, 30.0)
    trials = args.trials or (1 if args.quick else 3)
    retries = args.retries if args.retries is not None else (0 if args.quick else RETRIES)
    world = {k: v for k, v in (("players", args.players), ("hunts", args.hunts)) if v}
    configs = {
        p: load_config(p).with_overrides(world=world) if world else load_config(p) for p in presets
    }
    nofile = _openloop.raise_open_file_limit()
    print(f"open-file limit {nofile}; client {args.client}; trials {trials}", flush=True)

    report: dict[str, Any] = {
        "schema": "vbench.engine_capacity/1",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "client": args.client,
        "presets": presets,
        "warmup_s": warmup_s,
        "step_s": step_s,
        "soak_s": soak_s,
        "trials": trials,
        "criteria": {"p99_ms_max": P99_LIMIT_MS, "achieved_min_ratio": ACHIEVED_MIN},
        "world": configs[presets[0]].world.model_dump(),
        "configs": {p: configs[p].model_dump() for p in presets},  # as measured, files too
        "mix": MIX,
        "engine_code_at_start": engine_code_fingerprint(),
        "max_connections": MAX_CONNECTIONS,
        "open_file_limit": nofile,
        "git_head": _git_head(),
    }
    with tempfile.TemporaryDirectory(prefix="vbench-capacity-") as tmp:
        workdir = Path(tmp)
        if not args.skip_ceiling:
            print("client ceiling (canned server):", flush=True)
            ceiling_rates = [r for r in CEILING_RATES if r <= 2 * max(rates)] or [int(max(rates))]
            ceiling = client_ceiling(ceiling_rates, warmup_s, step_s, args.client, workdir)
            report["client_ceiling"] = ceiling
        if not args.skip_ladder:
            print("ladder:", flush=True)
            rows, measurements = ladder(
                presets, configs, rates, warmup_s, step_s, trials, args.client, workdir, retries
            )
            report["ladder"] = rows
            report["ladder_runs"] = [asdict(m) for m in measurements]
        if not args.skip_soak:
            print(f"soak at {SOAK_RATE}/s for {soak_s:.0f} s:", flush=True)
            runs = soak(
                presets, configs, SOAK_RATE, warmup_s, soak_s, trials, args.client, workdir, retries
            )
            report["soak"] = {
                p: {
                    "summary": [soak_summary(asdict(m)) for m in ms],
                    "runs": [asdict(m) for m in ms],
                }
                for p, ms in runs.items()
            }
    problems = [
        f"{m['preset']} {m['rate']}/s trial {m['trial']}: {p}"
        for m in report.get("ladder_runs", [])
        for p in m["problems"]
    ] + [
        f"soak {p}: trial {run['trial']}: {problem}"
        for p, soaked in report.get("soak", {}).items()
        for run in soaked["runs"]
        for problem in run["problems"]
    ]
    report["engine_code_at_end"] = engine_code_fingerprint()
    seen = {m["engine_code"] for m in report.get("ladder_runs", [])} | {
        run["engine_code"] for soaked in report.get("soak", {}).values() for run in soaked["runs"]
    }
    if len(seen | {report["engine_code_at_start"], report["engine_code_at_end"]}) > 1:
        problems.append(
            "the engine's code changed during this run (someone edited veltrix_bench/engine): "
            "measurements are not comparable; run again"
        )
    report["problems"] = problems
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str))
    print()
    print(render_markdown(report))
    print(f"raw figures: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
