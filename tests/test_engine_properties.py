"""Property-based: whatever requests arrive, memory and SQLite agree and nothing acked is lost.

Hypothesis plays sequences of requests against a live engine of each preset (a real process
on a real SQLite file): single events and arrays, valid and invalid, ids repeated within and
across requests, retries, many players claiming one treasure at once, and events whose
commit fails on purpose (faults.commit_fail_prefix). Only three results are kept in memory,
so most repeated ids are answered from the database. Each run stops the engine and starts it
again on the same file at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import http
from tests.engine_state import GameState, persisted_results, state_in_database, state_served
from veltrix_bench.engine.config import EngineConfig, load_config
from veltrix_bench.engine.events import EVENT_TYPES
from veltrix_bench.engine.process import EngineProcess, start_engine
from veltrix_bench.engine.world import World

HUNTS, PLAYERS, PLACES, CLUES, TREASURES = 2, 5, 3, 3, 2
IDS = [f"e{i}" for i in range(24)]  # few ids: they repeat within and across requests
FAULT = "boom-"  # faults.commit_fail_prefix: the commit of an event with such an id fails


def _config(preset: str) -> EngineConfig:
    return load_config(preset).with_overrides(
        world={"hunts": HUNTS, "players": PLAYERS, "places_per_hunt": PLACES,
               "clues_per_hunt": CLUES, "treasures_per_hunt": TREASURES},
        storage={"recent_results": 3},
        faults={"commit_fail_prefix": FAULT},
    )  # fmt: skip


ANSWERS = World.generate(_config("default").world)  # the world is the same for both presets


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(EVENT_TYPES))
    hunt, player = draw(st.integers(1, HUNTS)), draw(st.integers(1, PLAYERS))
    event: dict[str, Any] = {"id": draw(st.sampled_from(IDS)), "type": kind, "hunt": hunt,
                             "player": player}  # fmt: skip
    if kind == "checkin":
        event["place"] = draw(st.integers(1, PLACES))
    elif kind in ("solve", "hint"):
        event["clue"] = draw(st.integers(1, CLUES))
    elif kind == "claim":
        event["treasure"] = draw(st.integers(1, TREASURES))
    if kind == "solve":
        right = ANSWERS.hunt(hunt).answers[event["clue"] - 1]
        event["answer"] = right if draw(st.integers(0, 3)) else "wrong"
    return event


# what makes an event invalid: the whole request is refused, nothing of it applied
SPOILERS = (
    lambda e: {**e, "type": "dance"},
    lambda e: {**e, "hunt": HUNTS + 1},
    lambda e: {k: v for k, v in e.items() if k != "player"},
    lambda e: {**e, "id": "\ud800"},  # a lone surrogate: json.dumps writes it as an escape
    lambda e: {**e, "type": [1]},
)


class Request:
    def __init__(self, body: Any, valid: bool) -> None:
        self.body = body
        self.events: list[dict[str, Any]] = body if isinstance(body, list) else [body]
        self.valid = valid
        self.faulty = valid and any(str(e["id"]).startswith(FAULT) for e in self.events)
        self.raw = json.dumps(body).encode()

    def __repr__(self) -> str:
        return f"Request({self.body!r}, valid={self.valid})"


@st.composite
def requests(draw: st.DrawFn, faults: bool = True) -> Request:
    batch = draw(st.lists(events(), min_size=1, max_size=5))
    if faults and draw(st.integers(0, 7)) == 0:
        at = draw(st.integers(0, len(batch) - 1))
        batch[at] = {**batch[at], "id": f"{FAULT}{draw(st.integers(0, 3))}"}
    valid = draw(st.integers(0, 7)) > 0
    if not valid:
        at = draw(st.integers(0, len(batch) - 1))
        batch[at] = draw(st.sampled_from(SPOILERS))(batch[at])
    body = batch if len(batch) > 1 or draw(st.booleans()) else batch[0]
    return Request(body, valid)


async def _post_all(url: str, bodies: list[bytes]) -> list[tuple[int, Any]]:
    """POST every body at once; (status, decoded answer) of each."""
    async with aiohttp.ClientSession() as session:

        async def post(body: bytes) -> tuple[int, Any]:
            async with session.post(f"{url}/v1/events", data=body) as answer:
                return answer.status, json.loads(await answer.read())

        return list(await asyncio.gather(*(post(body) for body in bodies)))


class EngineProperties(RuleBasedStateMachine):
    preset = "default"

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix=f"vbench-properties-{self.preset}-"))
        self.db = self.folder / "v.db"
        (self.folder / "engine.toml").write_text(_config(self.preset).to_toml())
        self.engine = self._start()
        self.sent: list[Request] = []
        self.answered: dict[str, tuple[str, str | None]] = {}  # id: its committed result
        self.accepted: set[str] = set()  # ids of requests not refused as a whole
        self.storms = 0
        self.restarted = False

    def _start(self) -> EngineProcess:
        engine = start_engine(self.folder / "engine.toml", self.db, self.folder / "engine.log")
        self.persisted_at_start = http("GET", f"{engine.url}/v1/stats")[2]["persisted"]
        return engine

    # -- what is sent ------------------------------------------------------------------------
    @rule(request=requests())
    def send(self, request: Request) -> None:
        self._send([request])

    @rule(together=st.lists(requests(faults=False), min_size=2, max_size=5))
    def send_together(self, together: list[Request]) -> None:
        self._send(together)

    @precondition(lambda self: self.sent)
    @rule(index=st.integers(min_value=0))
    def retry(self, index: int) -> None:
        self._send([self.sent[index % len(self.sent)]])

    @rule(hunt=st.integers(1, HUNTS), treasure=st.integers(1, TREASURES))
    def claim_storm(self, hunt: int, treasure: int) -> None:
        """Every player joins the hunt (or is refused: joined already), then all claim one
        treasure at the same moment."""
        self.storms += 1
        players = range(1, PLAYERS + 1)
        joins = [{"id": f"storm{self.storms}-join-{p}", "type": "join", "hunt": hunt,
                  "player": p} for p in players]  # fmt: skip
        self._send([Request(joins, valid=True)])
        self._send(
            [
                Request(
                    {
                        "id": f"storm{self.storms}-{p}",
                        "type": "claim",
                        "hunt": hunt,
                        "player": p,
                        "treasure": treasure,
                    },
                    valid=True,
                )  # fmt: skip
                for p in players
            ]
        )

    @precondition(lambda self: not self.restarted)
    @rule()
    def restart(self) -> None:
        self._restart()

    def _send(self, batch: list[Request]) -> None:
        answers = asyncio.run(_post_all(self.engine.url, [r.raw for r in batch]))
        for request, (status, answer) in zip(batch, answers, strict=True):
            self.sent.append(request)
            if not request.valid:
                assert status == 400, (request, answer)
                continue
            # 5xx only for the injected failure, and always for it: its id is never committed
            assert status == (500 if request.faulty else 200), (request, answer)
            if status == 500:
                assert answer["error"].startswith("commit failed"), answer
            results = answer["results"]
            assert [r["id"] for r in results] == [e["id"] for e in request.events]
            for result in results:
                self.accepted.add(result["id"])
                if result["status"] == "not_applied":
                    assert result["id"] not in self.answered, (request, answer)
                    continue
                got = (result["status"], result.get("reason"))
                # an id answers the same every time it is sent, whatever else it carries
                assert self.answered.setdefault(result["id"], got) == got, (request, answer)

    def _restart(self) -> None:
        before = self._served()
        assert self.engine.stop() == 0
        assert state_in_database(self.db) == before
        self.engine = self._start()
        assert self._served() == before
        self.restarted = True

    def _served(self) -> GameState:
        return state_served(self.engine, range(1, PLAYERS + 1))

    # -- what must hold after every step -----------------------------------------------------
    @invariant()
    def memory_equals_the_database_and_every_answer_is_persisted(self) -> None:
        assert self._served() == state_in_database(self.db)
        persisted = persisted_results(self.db)
        for event_id, result in self.answered.items():
            assert persisted.get(event_id) == result, event_id
        assert set(persisted) <= self.accepted

    @invariant()
    def no_treasure_has_two_winners(self) -> None:
        with contextlib.closing(sqlite3.connect(self.db)) as connection:
            won = connection.execute(
                "SELECT hunt, target, player FROM events WHERE type = 'claim' AND status = 'won'"
            ).fetchall()
            claims = connection.execute("SELECT hunt, treasure, player FROM claims").fetchall()
        assert max(Counter((hunt, target) for hunt, target, _ in won).values(), default=0) <= 1
        assert sorted(won) == sorted(claims)

    @invariant()
    def acknowledged_equals_persisted(self) -> None:
        stats = http("GET", f"{self.engine.url}/v1/stats")[2]
        persisted = Counter(stats["persisted"])
        persisted.subtract(self.persisted_at_start)
        assert +persisted == Counter(stats["acknowledged"])

    def teardown(self) -> None:
        try:
            if not self.restarted and self.engine.alive():
                self._restart()  # every run ends with a restart on the same file
        finally:
            self.engine.stop()
            shutil.rmtree(self.folder, ignore_errors=True)


# A run starts an engine and restarts it once (~2 s here); the budget is about half a minute
# a preset. `database=None`: nothing is written beside the tests; a failure prints its steps.
RUNS = settings(
    max_examples=6,
    stateful_step_count=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class DefaultProperties(EngineProperties):
    preset = "default"


class TunedProperties(EngineProperties):
    preset = "tuned"


@pytest.mark.slow
def test_default_keeps_memory_and_sqlite_together() -> None:
    run_state_machine_as_test(DefaultProperties, settings=RUNS)


@pytest.mark.slow
def test_tuned_keeps_memory_and_sqlite_together() -> None:
    run_state_machine_as_test(TunedProperties, settings=RUNS)
