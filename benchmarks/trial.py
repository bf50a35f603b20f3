"""One trial of the independent open-loop client against a fresh engine, and what it found.

For engine_capacity, co_fidelity and gc_pauses: a fresh engine on a fresh SQLite file, every
player joins its hunts, then single-event POSTs (checkin / solve / hint / claim, unique ids)
arrive on a fixed schedule whatever the engine does (`_openloop.py`); then the engine's
counters, its database and its log are checked against what the client saw.

With `Step.scenario` (capacity_agreement) the requests are instead the ones that scenario's
players make in vbench (`PlayerTraffic`): joins in the run, reads among the events, so that
both clients offer the same work and only the client differs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from prometheus_client.parser import text_string_to_metric_families

from benchmarks._openloop import ClientKind, HttpRequest, OpenLoopResult, Probe, run_open_loop
from benchmarks.harness import HOST, REPO, engine_running, least_disturbed
from veltrix_bench.engine.config import EngineConfig
from veltrix_bench.engine.process import EngineProcess
from veltrix_bench.engine.world import World
from veltrix_bench.load.players import Action, Hunt, Population
from veltrix_bench.load.scenario import load_scenario

P99_LIMIT_MS = 50.0
ACHIEVED_MIN = 0.95
# The play mix once everyone has joined: weights of each event type.
MIX = {"checkin": 0.45, "solve": 0.25, "hint": 0.15, "claim": 0.15}
WRONG_ANSWER_SHARE = 0.1
HUNTS_PER_PLAYER = 2
# One connection per request in flight: the open-file limit (20,000 here, for the client and
# the engine alike) caps how many requests the engine can hold; the rest wait in the client.
MAX_CONNECTIONS = 15_000
JOIN_BATCH = 100
RETRIES = 1  # reruns of a measurement other processes disturbed (see harness.least_disturbed)
ENGINE_DIR = REPO / "veltrix_bench" / "engine"


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

    @property
    def pre_joins(self) -> int:
        """Joins sent before the run (`join_batches`), all of which must apply."""
        return len(self.memberships)

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
        kinds = self.rng.choices(self.kinds, self.weights, k=count)
        return [json.dumps(self._event(index, kind)).encode() for index, kind in enumerate(kinds)]

    def _event(self, index: int, kind: str) -> dict[str, Any]:
        rng, config = self.rng, self.world.config
        hunt, player = self.memberships[rng.randrange(len(self.memberships))]
        event: dict[str, Any] = {"id": f"e{index}", "type": kind, "hunt": hunt, "player": player}
        answers = self.world.hunt(hunt).answers
        clue = self.next_clue[(hunt, player)]
        if kind == "solve" and clue > len(answers):
            kind = event["type"] = "checkin"
        if kind == "checkin":
            event["place"] = rng.randint(1, config.places_per_hunt)
        elif kind == "hint":
            event["clue"] = min(clue, len(answers))
        elif kind == "claim":
            event["treasure"] = rng.randint(1, config.treasures_per_hunt)
        else:
            event["clue"] = clue
            if rng.random() < WRONG_ANSWER_SHARE:
                event["answer"] = "not-" + answers[clue - 1]
            else:
                event["answer"] = answers[clue - 1]
                self.next_clue[(hunt, player)] = clue + 1
        return event


class PlayerTraffic:
    """The requests a bundled scenario's players make in vbench, decided before the run.

    vbench's own player model (`veltrix_bench.load.players`, pure logic) picks each next
    player and action, so the mix, the joins and the reads are the scenario's; only the
    sending, timing and measuring are this client's. Each action is settled at once with the
    answer the engine gives a lone request (a correct solve applies, a wrong one does not), so
    a player's clues advance as they would; players never wait on their own requests here,
    which changes nothing while a few dozen of thousands of players are in flight.
    """

    def __init__(self, scenario_name: str, world: World, seed: int) -> None:
        mix = load_scenario(scenario_name).mix
        hunts = [Hunt.from_json(hunt.describe()) for hunt in world.hunts]
        self.population = Population(
            hunts,
            world.config.players,
            mix.action_mix(),
            mix.wrong_answer_rate,
            seed,
            run_tag=f"y{seed}",
        )
        self.answers = {h.hunt: dict(h.clues) for h in hunts}

    pre_joins = 0  # each player joins with its first request in the run

    def join_batches(self) -> list[bytes]:
        return []

    def play(self, count: int) -> list[bytes | HttpRequest]:
        requests: list[bytes | HttpRequest] = []
        for _ in range(count):
            action = self.population.next_action()
            assert action is not None, "every action is settled at once: the pool never empties"
            if action.body is None:
                requests.append(HttpRequest(action.method, action.path))
            else:
                requests.append(json.dumps(action.body).encode())
            self.population.settle(action, [self._answer(action)])
        return requests

    def _answer(self, action: Action) -> dict[str, Any]:
        body = action.body or {}
        applied = action.kind != "solve" or (
            self.answers[body["hunt"]][body["clue"]] == body["answer"]
        )
        return {"id": body.get("id"), "status": "applied" if applied else "rejected"}


# -- the measurement record -------------------------------------------------------------------
def engine_code_fingerprint() -> str:
    """A short hash of the engine's source and presets: others edit the engine meanwhile."""
    digest = hashlib.sha256()
    for path in sorted([*ENGINE_DIR.glob("*.py"), *ENGINE_DIR.glob("presets/*.toml")]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


class Measurement(msgspec.Struct, kw_only=True):
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
    engine_log: str = ""  # the engine's log file (kept only while the run's work folder is)
    engine_log_problems: list[str]
    engine_log_tail: list[str]
    engine_code: str
    problems: list[str] = []
    others_cpu_of_attempts: list[float] = []

    @property
    def engine_cpu_pct(self) -> float | None:
        return self.load.target_cpu_pct


def passes(load: OpenLoopResult, rate: float) -> bool:
    """The capacity criteria: p99 within the limit, the rate achieved, nothing left over."""
    p99 = load.latency.p99
    return (
        p99 is not None
        and p99 <= P99_LIMIT_MS
        and load.achieved_rate >= ACHIEVED_MIN * rate
        and load.outstanding_at_cutoff == 0
    )


async def _join_everyone(session: aiohttp.ClientSession, url: str, batches: list[bytes]) -> int:
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

    return sum(await asyncio.gather(*(post(b) for b in batches)))


def _metrics_probe(session: aiohttp.ClientSession, url: str) -> Probe:
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


def _log_problems(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines()
    marks = ("Traceback", "ERROR", "Error", "exception", "Exception", "CRITICAL", "WARNING")
    return [line for line in lines if any(m in line for m in marks)][:20]


def _count_db_events(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        count: int = connection.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return count


@dataclass(frozen=True)
class Step:
    """What one trial measures."""

    preset: str  # a preset name or a config file, as the results name it
    config: EngineConfig
    rate: float
    warmup_s: float
    duration_s: float
    trial: int
    client: ClientKind = "raw"
    engine_env: dict[str, str] | None = None  # extra environment for the engine process
    scenario: str | None = None  # play its players (PlayerTraffic); `config` holds its world


def measure(step: Step, workdir: Path) -> Measurement:
    """One fresh engine, joins, one open-model run; then the invariants and a clean stop."""
    label = Path(step.preset).stem  # a preset name, or a config file's name without its folders
    run_dir = Path(tempfile.mkdtemp(prefix=f"{label}-{int(step.rate)}-", dir=workdir))
    world = World.generate(step.config.world)
    traffic: HuntTraffic | PlayerTraffic
    if step.scenario is None:
        traffic = HuntTraffic(world, seed=step.trial)
    else:
        traffic = PlayerTraffic(step.scenario, world, seed=step.trial)
    engine_code = engine_code_fingerprint()
    bodies = traffic.play(int(step.rate * (step.warmup_s + step.duration_s)) + 1)
    with engine_running(step.config, run_dir, env=step.engine_env, stop_timeout=30) as engine:
        load, joins_applied, join_s, stats = asyncio.run(_load(engine, traffic, bodies, step))
        stop_started = time.monotonic()
        exit_code = engine.stop(timeout=30)
        stop_s = time.monotonic() - stop_started
    measurement = Measurement(
        preset=step.preset,
        rate=step.rate,
        trial=step.trial,
        load=load,
        passed=passes(load, step.rate),
        join_s=round(join_s, 2),
        joins_applied=joins_applied,
        stats_after=stats,
        db_events=_count_db_events(run_dir / "veltrix.db"),
        client_acked=joins_applied + sum(load.results.values()),
        engine_exit=exit_code,
        stop_s=round(stop_s, 2),
        engine_log=str(engine.log_path),
        engine_log_problems=_log_problems(engine.log_path),
        engine_log_tail=engine.last_log_lines(8),
        engine_code=engine_code,
    )
    measurement.problems.extend(problems(measurement, traffic.pre_joins))
    return measurement


async def _load(
    engine: EngineProcess,
    traffic: HuntTraffic | PlayerTraffic,
    bodies: Sequence[bytes | HttpRequest],
    step: Step,
) -> tuple[OpenLoopResult, int, float, dict[str, Any]]:
    """(the open-loop result, joins applied, seconds the joins took, /v1/stats after)."""
    joins_applied, join_s = 0, 0.0
    if batches := traffic.join_batches():
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            started = time.monotonic()
            joins_applied = await _join_everyone(session, engine.url, batches)
            join_s = time.monotonic() - started
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=5), connector=aiohttp.TCPConnector(limit=1)
    ) as probe_session:
        load = await run_open_loop(
            HOST,
            engine.port,
            "/v1/events",
            bodies,
            step.rate,
            step.warmup_s,
            step.duration_s,
            client=step.client,
            max_connections=MAX_CONNECTIONS,
            target_pid=engine.pid,
            probe=_metrics_probe(probe_session, engine.url),
        )
        await asyncio.sleep(0.5)  # let answers to aborted requests settle in the engine
        stats: dict[str, Any]
        try:
            async with probe_session.get(
                engine.url + "/v1/stats", timeout=aiohttp.ClientTimeout(total=60)
            ) as response:
                stats = await response.json()
        except (TimeoutError, aiohttp.ClientError) as exc:
            stats = {"error": f"{type(exc).__name__}: {exc}"}
    return load, joins_applied, join_s, stats


def measure_undisturbed(step: Step, workdir: Path, retries: int) -> Measurement:
    """`measure`, again while other processes took more than a quiet machine allows."""

    def again(m: Measurement) -> None:
        print_step(m, note=f"disturbed (others {m.load.others_cpu_pct:.0f}%): again")

    best, others = least_disturbed(
        lambda: measure(step, workdir), lambda m: m.load.others_cpu_pct, retries, again
    )
    best.others_cpu_of_attempts = others
    return best


def problems(m: Measurement, memberships: int) -> list[str]:
    """Engine behaviour that breaks the API's promises, as found in this measurement."""
    server_errors = {k: v for k, v in m.load.errors.items() if not k.startswith("4")}
    found = [
        text
        for broken, text in (
            (m.joins_applied != memberships, f"{m.joins_applied} of {memberships} joins applied"),
            (
                m.db_events < m.client_acked,
                f"lost events: client got 200 for {m.client_acked}, database has {m.db_events}",
            ),
            (bool(server_errors), f"errors other than 4xx: {server_errors}"),
            (m.engine_exit not in (0, None), f"engine exit code {m.engine_exit}"),
        )
        if broken
    ]
    if m.engine_log_problems:
        found.append(f"engine log: {m.engine_log_problems[0][:160]}")
    return found + _stats_problems(m.stats_after)


def _stats_problems(stats: dict[str, Any]) -> list[str]:
    """/v1/stats after a settled run: everything acknowledged must be persisted."""
    acknowledged, persisted = stats.get("acknowledged"), stats.get("persisted")
    if not isinstance(acknowledged, dict) or not isinstance(persisted, dict):
        return []
    if stats.get("queue_depth") or sum(persisted.values()) >= sum(acknowledged.values()):
        return []
    return [f"/v1/stats: acknowledged {acknowledged} > persisted {persisted}"]


def _figure(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def print_step(m: Measurement, note: str = "") -> None:
    load = m.load
    verdict = note or ("pass" if m.passed else "FAIL")
    print(
        f"  {m.preset:>7} {int(m.rate):>5}/s trial {m.trial}: {verdict} achieved "
        f"{load.achieved_rate:.0f}/s p50 {_figure(load.latency.p50)} p99 "
        f"{_figure(load.latency.p99)} ms "
        f"outstanding {load.outstanding_at_cutoff} errors {load.errors} | cpu client "
        f"{load.client_cpu_pct:.0f}% engine {load.target_cpu_pct}% machine "
        f"{load.machine_cpu_pct:.0f}% others {load.others_cpu_pct:.0f}% | late "
        f"{load.late_generator} lag {load.max_generator_lag_ms} ms | stop {m.stop_s}s "
        f"exit {m.engine_exit}" + (f" | PROBLEMS {m.problems}" if m.problems else ""),
        flush=True,
    )
