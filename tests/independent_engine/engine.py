"""An independent Veltrix engine, written from the contract (veltrix_bench/contract/openapi.json)
alone, with the standard library only: http.server with a thread per connection (HTTP/1.1
keep-alive), sqlite3, tomllib. Nothing of veltrix_bench is imported.

    python tests/independent_engine/engine.py --port 0 --db x.db --config engine.toml
        [--broken two-winners|apply-retries|no-stats|stats-shape|unnamed-field|no-retry-after]

The config is vbench's engine TOML; only [world], [queue] and [http] are read. `--broken`
makes a deliberately wrong engine, for the tests that check the conformance checks catch it.
Events of one request are applied under one lock and committed in one transaction; memory
changes only after the commit succeeds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import threading
import time
import tomllib
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeGuard

CONTRACT = Path(__file__).resolve().parents[2] / "veltrix_bench" / "contract" / "openapi.json"
BROKEN = ("two-winners", "apply-retries", "no-stats", "stats-shape", "unnamed-field",
          "no-retry-after")  # fmt: skip
TYPES = ("join", "checkin", "solve", "hint", "claim")
TARGET = {"join": None, "checkin": "place", "solve": "clue", "hint": "clue", "claim": "treasure"}
WORDS = ("lichen", "basalt", "heron", "quill", "tundra", "orbit", "cinder", "delta")


# -- the world ------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    hunts: int = 4
    players: int = 2000
    places_per_hunt: int = 10
    clues_per_hunt: int = 5
    treasures_per_hunt: int = 3
    seed: int = 7

    def upper(self, name: str) -> int:
        return {
            "hunt": self.hunts,
            "player": self.players,
            "place": self.places_per_hunt,
            "clue": self.clues_per_hunt,
            "treasure": self.treasures_per_hunt,
        }[name]

    def answer(self, hunt: int, clue: int) -> str:
        return random.Random(f"{self.seed}:{hunt}:{clue}").choice(WORDS)

    def describe(self, hunt: int) -> dict[str, Any]:
        """The hunt, with places and treasures as objects (the contract allows either)."""
        return {
            "hunt": hunt,
            "name": f"hunt number {hunt}",
            "places": [
                {"place": p, "name": f"place {p}"} for p in range(1, self.places_per_hunt + 1)
            ],
            "clues": [
                {"clue": c, "answer": self.answer(hunt, c), "text": f"riddle {c}"}
                for c in range(1, self.clues_per_hunt + 1)
            ],
            "treasures": [
                {"treasure": t, "value": 100 * t} for t in range(1, self.treasures_per_hunt + 1)
            ],
        }


@dataclass(frozen=True)
class Settings:
    world: World
    capacity: int  # events admitted at once; 0 = no bound
    retry_after_s: int
    max_body_bytes: int
    broken: str | None


def read_settings(path: Path, broken: str | None) -> Settings:
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    world_keys = World.__dataclass_fields__
    world = World(**{k: v for k, v in config.get("world", {}).items() if k in world_keys})
    queue, http = config.get("queue", {}), config.get("http", {})
    return Settings(
        world,
        int(queue.get("capacity", 0)),
        int(queue.get("retry_after_s", 1)),
        int(http.get("max_body_bytes", 1_048_576)),
        broken,
    )


# -- decoding events ------------------------------------------------------------------------


class BadRequest(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.message = message


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    hunt: int
    player: int
    target: int  # place, clue or treasure; 0 for a join
    answer: str | None


def decode(body: bytes, world: World) -> list[Event]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("body", f"not JSON: {exc}") from None
    if isinstance(document, dict):
        return [parse_event(document, world, "")]
    if isinstance(document, list) and document:
        return [parse_event(item, world, f"[{i}].") for i, item in enumerate(document)]
    raise BadRequest("body", "expected an event object or a non-empty array of them")


def _text(value: Any) -> TypeGuard[str]:
    """A string that can be stored (a lone surrogate cannot)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_event(raw: Any, world: World, prefix: str) -> Event:
    if not isinstance(raw, dict):
        raise BadRequest(prefix.rstrip(".") or "body", "expected an event object")
    event_id = raw.get("id")
    if not _text(event_id) or not 1 <= len(event_id) <= 200:
        raise BadRequest(prefix + "id", "a string of 1 to 200 characters")
    kind = raw.get("type")
    if kind not in TYPES:
        raise BadRequest(prefix + "type", f"one of {', '.join(TYPES)}")
    target_name = TARGET[kind]
    allowed = {"id", "type", "hunt", "player"} | ({target_name} if target_name else set())
    if kind == "solve":
        allowed.add("answer")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise BadRequest(prefix + unknown[0], f"not a field of a {kind} event")
    ids = {}
    for name in ("hunt", "player", target_name):
        if name is None:
            continue
        value = raw.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadRequest(prefix + name, "an integer id is required")
        if not 1 <= value <= world.upper(name):
            raise BadRequest(prefix + name, f"no {name} {value}")
        ids[name] = value
    answer = raw.get("answer")
    if kind == "solve" and not _text(answer):
        raise BadRequest(prefix + "answer", "a string is required")
    target = ids[target_name] if target_name else 0
    return Event(event_id, kind, ids["hunt"], ids["player"], target, answer)


# -- the game and its storage ---------------------------------------------------------------


@dataclass
class Member:
    score: int = 0
    next_clue: int = 1
    place: int = 0


@dataclass
class Batch:
    """What one request changes, kept aside until its commit succeeds."""

    members: dict[tuple[int, int], Member] = field(default_factory=dict)
    winners: dict[tuple[int, ...], int] = field(default_factory=dict)
    results: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # the type of each event applied


class Game:
    def __init__(self, settings: Settings, db: Path) -> None:
        self.world = settings.world
        self.broken = settings.broken
        self.lock = threading.Lock()
        self.db = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = wal")
        self.db.execute("PRAGMA synchronous = normal")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, type TEXT, hunt INTEGER,
                player INTEGER, status TEXT, reason TEXT);
            CREATE TABLE IF NOT EXISTS members (hunt INTEGER, player INTEGER, score INTEGER,
                next_clue INTEGER, place INTEGER, PRIMARY KEY (hunt, player));
            CREATE TABLE IF NOT EXISTS winners (hunt INTEGER, treasure INTEGER, player INTEGER);
            """
        )
        self.members = {
            (h, p): Member(s, n, pl)
            for h, p, s, n, pl in self.db.execute("SELECT * FROM members").fetchall()
        }
        self.winners = {
            self._winner_key(h, t, p): p
            for h, t, p in self.db.execute("SELECT * FROM winners").fetchall()
        }
        self.results = {
            i: (s, r) for i, s, r in self.db.execute("SELECT id, status, reason FROM events")
        }
        self.acknowledged = dict.fromkeys(TYPES, 0)

    def _winner_key(self, hunt: int, treasure: int, player: int) -> tuple[int, ...]:
        # broken "two-winners": every player may win every treasure once
        return (hunt, treasure, player) if self.broken == "two-winners" else (hunt, treasure)

    def apply(self, events: list[Event]) -> list[tuple[str, str | None]]:
        """Results in request order; raises sqlite3.Error if the commit fails (nothing kept)."""
        with self.lock:
            batch = Batch()
            results = []
            for event in events:
                known = batch.results.get(event.id) or self.results.get(event.id)
                if known is not None and self.broken != "apply-retries":
                    results.append(known)
                    continue
                result = self._rule(event, batch)
                batch.results[event.id] = result
                batch.rows.append((event.id, event.type, event.hunt, event.player, *result))
                batch.kinds.append(event.type)
                results.append(result)
            self._commit(batch)
            self.members.update(batch.members)
            self.winners.update(batch.winners)
            self.results.update(batch.results)
            for kind in batch.kinds:
                self.acknowledged[kind] += 1
            return results

    def _rule(self, event: Event, batch: Batch) -> tuple[str, str | None]:
        key = (event.hunt, event.player)
        current = batch.members.get(key) or self.members.get(key)
        if event.type == "join":
            if current is not None:
                return "rejected", "already a member of this hunt"
            batch.members[key] = Member()
            return "applied", None
        if current is None:
            return "rejected", "join the hunt first"
        member = replace(current)
        if event.type == "checkin":
            member.place, member.score = event.target, member.score + 1
        elif event.type == "hint":
            member.score = max(0, member.score - 2)
        elif event.type == "solve":
            if member.next_clue > self.world.clues_per_hunt:
                return "rejected", "no clue left"
            if event.target != member.next_clue:
                return "rejected", "clues are solved in order"
            if event.answer != self.world.answer(event.hunt, event.target):
                return "rejected", "that is not the answer"
            member.next_clue, member.score = member.next_clue + 1, member.score + 10
        else:
            treasure = self._winner_key(event.hunt, event.target, event.player)
            if treasure in batch.winners or treasure in self.winners:
                return "already_claimed", None
            batch.winners[treasure] = event.player
            member.score += 50
        batch.members[key] = member
        return ("won" if event.type == "claim" else "applied"), None

    def _commit(self, batch: Batch) -> None:
        verb = "INSERT OR REPLACE" if self.broken == "apply-retries" else "INSERT"
        try:
            self.db.execute("BEGIN")
            self.db.executemany(f"{verb} INTO events VALUES (?, ?, ?, ?, ?, ?)", batch.rows)
            self.db.executemany(
                "INSERT OR REPLACE INTO members VALUES (?, ?, ?, ?, ?)",
                [(h, p, m.score, m.next_clue, m.place) for (h, p), m in batch.members.items()],
            )
            self.db.executemany(
                "INSERT INTO winners VALUES (?, ?, ?)",
                [(key[0], key[1], player) for key, player in batch.winners.items()],
            )
            self.db.execute("COMMIT")
        except sqlite3.Error:
            self.db.execute("ROLLBACK")
            raise

    def persisted(self) -> dict[str, int]:
        with self.lock:
            rows = self.db.execute("SELECT type, COUNT(*) FROM events GROUP BY type").fetchall()
        return dict(rows)

    def leaderboard(self, hunt: int) -> list[dict[str, int]]:
        with self.lock:
            board = [(m.score, p, m) for (h, p), m in self.members.items() if h == hunt]
        board.sort(key=lambda row: (-row[0], row[1]))
        return [{"player": p, "score": s, "next_clue": m.next_clue} for s, p, m in board[:10]]

    def player(self, player: int) -> list[dict[str, int]]:
        with self.lock:
            joined = sorted((h, m) for (h, p), m in self.members.items() if p == player)
        return [
            {"hunt": h, "score": m.score, "next_clue": m.next_clue, "place": m.place}
            for h, m in joined
        ]


# -- HTTP -----------------------------------------------------------------------------------


class Engine:
    """The state shared by every connection's thread."""

    def __init__(self, settings: Settings, db: Path) -> None:
        self.settings = settings
        self.game = Game(settings, db)
        self.admission = threading.Lock()
        self.admitted = 0  # events taken in and not yet answered
        self.in_flight = 0  # POST /v1/events being handled
        self.stopping = False

    def admit(self, count: int) -> int | None:
        """None when admitted; else the status that refuses them (413 never fits, 429 full)."""
        capacity = self.settings.capacity
        with self.admission:
            if capacity and count > capacity:
                return 413
            if capacity and self.admitted + count > capacity:
                return 429
            self.admitted += count
            return None

    def release(self, count: int) -> None:
        with self.admission:
            self.admitted -= count

    def count_in_flight(self, change: int) -> None:
        with self.admission:
            self.in_flight += change


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses the connection
    timeout = 60  # an idle keep-alive connection frees its thread after this
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would be most of a load test's output

    # ---- answering ----
    def answer(self, status: int, body: Any, **headers: str) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(payload)

    def error(
        self, status: int, message: str, field_name: str | None = None, **headers: str
    ) -> None:
        body = {"error": message} if field_name is None else {"error": message, "field": field_name}
        self.answer(status, body, **headers)

    # ---- routes ----
    def do_GET(self) -> None:
        engine = self.server.engine
        world = engine.settings.world
        path = self.path.split("?")[0]
        if path == "/healthz":
            if engine.stopping:
                return self.error(503, "stopping")
            return self.answer(200, {"status": "ok"})
        if path == "/v1/stats" and engine.settings.broken != "no-stats":
            return self.answer(200, self.stats())
        if path == "/metrics":
            return self.metrics()
        if path == "/openapi.json":
            return self.answer(200, json.loads(CONTRACT.read_bytes()))
        match = re.fullmatch(r"/v1/(hunts|players)/([^/]+)(/leaderboard)?", path)
        if match is None or (match[1] == "players" and match[3]):
            return self.error(404, f"no route {path}")
        name = match[1][:-1]
        try:
            number = int(match[2])
        except ValueError:
            return self.error(400, f"{name} must be an integer", name)
        if not 1 <= number <= world.upper(name):
            return self.error(404, f"no {name} {number}")
        if name == "player":
            return self.answer(200, {"player": number, "hunts": engine.game.player(number)})
        if match[3]:
            return self.answer(200, {"hunt": number, "leaders": engine.game.leaderboard(number)})
        return self.answer(200, world.describe(number))

    def stats(self) -> dict[str, Any]:
        engine = self.server.engine
        acknowledged = {k: n for k, n in engine.game.acknowledged.items() if n}
        if engine.settings.broken == "stats-shape":  # totals, as one other engine had it
            return {"acknowledged": sum(acknowledged.values()), "persisted": 0, "won": 0}
        return {
            "acknowledged": acknowledged,
            "persisted": engine.game.persisted(),
            "treasures_won": len(engine.game.winners),
            "queue_depth": engine.admitted,
            "requests_in_flight": engine.in_flight,
        }

    def metrics(self) -> None:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        text = (
            "# HELP veltrix_queue_depth Events taken in and not yet answered.\n"
            "# TYPE veltrix_queue_depth gauge\n"
            f"veltrix_queue_depth {self.server.engine.admitted}\n"
            "# HELP process_resident_memory_bytes Resident memory.\n"
            "# TYPE process_resident_memory_bytes gauge\n"
            f"process_resident_memory_bytes {pages * os.sysconf('SC_PAGE_SIZE')}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def do_POST(self) -> None:
        engine = self.server.engine
        length = int(self.headers.get("Content-Length") or 0)
        if length > engine.settings.max_body_bytes:
            self.close_connection = True  # the body is not read: the connection cannot go on
            return self.error(413, f"over {engine.settings.max_body_bytes} bytes", "body")
        body = self.rfile.read(length)
        if self.path != "/v1/events":
            return self.error(404, f"no route {self.path}")
        if self.headers.get("Content-Encoding", "identity") != "identity":
            return self.error(415, "bodies are not decoded: send them without Content-Encoding")
        if engine.stopping:
            return self.error(503, "stopping", Retry_After="1")
        engine.count_in_flight(+1)
        try:
            self.post_events(engine, body)
        finally:
            engine.count_in_flight(-1)

    def post_events(self, engine: Engine, body: bytes) -> None:
        try:
            events = decode(body, engine.settings.world)
        except BadRequest as bad:
            named = None if engine.settings.broken == "unnamed-field" else bad.field_name
            return self.error(400, bad.message, named)
        refused = engine.admit(len(events))
        if refused == 413:
            return self.error(413, f"over the queue's {engine.settings.capacity} events", "body")
        if refused == 429:
            retry = {} if engine.settings.broken == "no-retry-after" else {
                "Retry_After": str(engine.settings.retry_after_s)
            }  # fmt: skip
            return self.error(429, "the queue is full", **retry)
        try:
            results = engine.game.apply(events)
        except sqlite3.Error as exc:
            return self.error(500, f"commit failed, nothing applied: {exc}")
        finally:
            engine.release(len(events))
        self.answer(
            200,
            {
                "results": [
                    {"id": e.id, "status": s, **({"reason": r} if r else {})}
                    for e, (s, r) in zip(events, results, strict=True)
                ]
            },
        )


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: hundreds of clients connect at once

    def __init__(self, address: tuple[str, int], engine: Engine) -> None:
        self.engine = engine
        super().__init__(address, Handler)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--broken", choices=BROKEN)
    parser.add_argument("--drain-s", type=float, default=10.0)
    args = parser.parse_args()
    engine = Engine(read_settings(args.config, args.broken), args.db)
    server = Server((args.host, args.port), engine)

    def stop(signum: int, frame: Any) -> None:
        engine.stopping = True  # new events get 503 while those in flight finish

        def drain() -> None:
            deadline = time.monotonic() + args.drain_s
            while engine.in_flight and time.monotonic() < deadline:
                time.sleep(0.01)
            server.shutdown()

        threading.Thread(target=drain, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"VELTRIX READY port={server.server_address[1]} pid={os.getpid()}", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
