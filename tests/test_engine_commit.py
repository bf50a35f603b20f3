"""The engine's memory never runs ahead of SQLite: duplicates, failed commits, evicted ids."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import EngineFactory, http, post_events
from tests.engine_state import (
    claims_in_database,
    persisted_results,
    state_in_database,
    state_in_memory,
    state_served,
)
from veltrix_bench.engine.config import EngineConfig, load_config
from veltrix_bench.engine.events import Event, decode_events
from veltrix_bench.engine.game import Game, Result
from veltrix_bench.engine.metrics import EngineMetrics
from veltrix_bench.engine.pipeline import NOT_APPLIED, RESULT_COMMIT_FAILED, Pipeline
from veltrix_bench.engine.storage import Store
from veltrix_bench.engine.world import World

APPLIED: Result = ("applied", None)
WON: Result = ("won", None)
FAILED = RESULT_COMMIT_FAILED


def join(event_id: str, player: int, hunt: int = 1) -> dict[str, Any]:
    return {"id": event_id, "type": "join", "hunt": hunt, "player": player}


def checkin(event_id: str, player: int, place: int = 1) -> dict[str, Any]:
    return {"id": event_id, "type": "checkin", "hunt": 1, "player": player, "place": place}


def claim(event_id: str, player: int, treasure: int) -> dict[str, Any]:
    return {"id": event_id, "type": "claim", "hunt": 1, "player": player, "treasure": treasure}


def _events(config: EngineConfig, *raw: dict[str, Any]) -> list[Event]:
    return decode_events(json.dumps(list(raw)).encode(), config.world)


def _pipeline(config: EngineConfig, db: Path) -> Pipeline:
    store = Store(config.storage, db, config.faults.commit_fail_prefix)
    return Pipeline(config, Game(World.generate(config.world)), store, EngineMetrics(lambda: 0))


# -- a failed commit, in every way the engine can commit ---------------------------------------
# (doomed request, its neighbour sent at the same moment): what each is answered. The doomed
# request's third event makes its commit fail. Async processing puts both requests in one
# batch; inline processing gives each its own. Commit per event keeps what was committed
# before the failure; commit per batch keeps nothing of the batch.
EXPECTED = {
    ("batch", "async"): ([FAILED] * 4, [FAILED]),
    ("batch", "inline"): ([FAILED] * 4, [WON]),
    ("event", "async"): ([APPLIED, WON, FAILED, FAILED], [FAILED]),
    ("event", "inline"): ([APPLIED, WON, FAILED, FAILED], [WON]),
}


@pytest.mark.parametrize("mode", ["async", "inline"])
@pytest.mark.parametrize("writer", ["thread", "loop"])
@pytest.mark.parametrize("commit", ["event", "batch"])
def test_a_failed_commit_fails_only_its_batch_and_leaves_memory_equal_to_the_database(
    tmp_path: Path, commit: str, writer: str, mode: str
) -> None:
    config = load_config("tuned").with_overrides(
        storage={"commit": commit, "writer": writer},
        processing={"mode": mode},
        faults={"commit_fail_prefix": "boom"},
    )
    db = tmp_path / "v.db"
    doomed = [checkin("c1", 1), claim("w1", 1, 1), join("boom-1", 4), checkin("c2", 2)]
    neighbour = [claim("w2", 2, 2)]

    async def play() -> tuple[list[Result], list[Result], list[Result], Pipeline]:
        pipeline = _pipeline(config, db)
        pipeline.start()
        joined, _ = await pipeline.submit(_events(config, *(join(f"j{p}", p) for p in (1, 2, 3))))
        assert joined == [APPLIED] * 3
        (first, _), (second, _) = await asyncio.gather(
            pipeline.submit(_events(config, *doomed)), pipeline.submit(_events(config, *neighbour))
        )
        later, _ = await pipeline.submit(_events(config, claim("w3", 3, 3), checkin("c3", 3)))
        return first, second, later, pipeline

    first, second, later, pipeline = asyncio.run(play())
    assert (first, second) == EXPECTED[(commit, mode)]
    assert later == [WON, APPLIED]  # a later batch is not touched by the failure
    assert state_in_memory(pipeline.game) == state_in_database(db)
    assert not pipeline.pending
    pipeline.close()
    persisted = persisted_results(db)
    for event, result in zip([*doomed, *neighbour], [*first, *second], strict=True):
        assert persisted.get(event["id"]) == (None if result[0] == NOT_APPLIED else result)


@pytest.mark.parametrize("writer", ["thread", "loop"])
@pytest.mark.parametrize("commit", ["event", "batch"])
def test_a_retry_of_an_id_evicted_from_memory_gets_its_first_result_and_changes_nothing(
    tmp_path: Path, commit: str, writer: str
) -> None:
    config = load_config("tuned").with_overrides(
        storage={"commit": commit, "writer": writer, "recent_results": 2}
    )
    db = tmp_path / "v.db"
    played = [join("j1", 1), claim("w1", 1, 1), checkin("c1", 1, place=2), checkin("c2", 1)]

    async def play() -> tuple[list[Result], list[bool], Pipeline]:
        pipeline = _pipeline(config, db)
        pipeline.start()
        for event in played:  # one at a time: j1 and w1 are evicted from memory by c1, c2
            await pipeline.submit(_events(config, event))
        assert pipeline.recent.get("w1") is None
        # the evicted ids sent again with other fields, between two new events
        again = [checkin("n1", 1), claim("w1", 1, 2), join("j1", 1), checkin("n2", 1, 5)]
        results, fresh = await pipeline.submit(_events(config, *again))
        return results, fresh, pipeline

    results, fresh, pipeline = asyncio.run(play())
    assert results == [APPLIED, WON, APPLIED, APPLIED]
    assert fresh == [True, False, False, True]
    assert pipeline.duplicates == 2
    # w1 won treasure 1 once (+50); the retry did not win treasure 2; n1 and n2 checked in
    assert state_in_memory(pipeline.game).members == ((1, 1, 1, 54, 5),)
    assert state_in_memory(pipeline.game) == state_in_database(db)
    assert claims_in_database(db) == {(1, 1, 1)}
    pipeline.close()


@pytest.mark.parametrize("writer", ["thread", "loop"])
@pytest.mark.parametrize("commit", ["event", "batch"])
def test_a_write_that_cannot_even_begin_fails_its_events_and_the_engine_goes_on(
    tmp_path: Path, commit: str, writer: str
) -> None:
    config = load_config("tuned").with_overrides(storage={"commit": commit, "writer": writer})
    db = tmp_path / "v.db"

    async def play() -> tuple[list[Result], list[Result], Pipeline]:
        pipeline = _pipeline(config, db)
        pipeline.start()
        # Whatever makes BEGIN fail (here: a transaction left open on the connection) must
        # fail the batch like any failed commit, not end the consumer and hang every request.
        pipeline.store.connection.execute("BEGIN")
        first, _ = await asyncio.wait_for(pipeline.submit(_events(config, join("j1", 1))), 10)
        again, _ = await asyncio.wait_for(pipeline.submit(_events(config, join("j1", 1))), 10)
        return first, again, pipeline

    first, again, pipeline = asyncio.run(play())
    assert (first, again) == ([FAILED], [APPLIED])
    assert state_in_memory(pipeline.game) == state_in_database(db)
    pipeline.close()


# -- on a live engine --------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["default", "tuned"])
def test_a_duplicate_id_in_one_array_is_applied_once_beside_a_concurrent_claim(
    engine_factory: EngineFactory, preset: str, tmp_path: Path
) -> None:
    db = tmp_path / f"{preset}.db"
    engine = engine_factory(preset, db=db)
    assert post_events(engine, [join("j1", 1), join("j2", 2)])[0] == 200
    hint = {"id": "x", "type": "hint", "hunt": 1, "player": 2, "clue": 1}

    async def at_once() -> list[tuple[int, Any]]:
        async with aiohttp.ClientSession() as session:

            async def send(body: Any) -> tuple[int, Any]:
                async with session.post(f"{engine.url}/v1/events", json=body) as answer:
                    return answer.status, await answer.json()

            return list(await asyncio.gather(send([hint, hint]), send(claim("win1", 1, 1))))

    (dup_status, dup), (claim_status, won) = asyncio.run(at_once())
    assert dup_status == claim_status == 200
    assert [r["status"] for r in dup["results"]] == ["applied", "applied"]
    assert won["results"][0]["status"] == "won"
    # a checkin twice in one array, then retried: one point, however often it is sent
    twice = [checkin("ck", 1, place=2), checkin("ck", 1, place=2)]
    assert [r["status"] for r in post_events(engine, twice)[2]["results"]] == ["applied"] * 2
    assert post_events(engine, checkin("ck", 1, place=2))[2]["results"][0]["status"] == "applied"
    stats = http("GET", f"{engine.url}/v1/stats")[2]
    assert stats["acknowledged"] == stats["persisted"] == {"join": 2, "hint": 1, "claim": 1,
                                                           "checkin": 1}  # fmt: skip
    served = state_served(engine, (1, 2))
    assert served.members == ((1, 1, 1, 51, 2), (1, 2, 1, 0, 0)) and served.treasures_won == 1
    assert served == state_in_database(db)
    assert claims_in_database(db) == {(1, 1, 1)}
    engine.stop()
    restarted = engine_factory(preset, db=db)
    assert state_served(restarted, (1, 2)) == served
    another = claim("win2", 2, 1)  # after the restart nobody else wins the same treasure
    assert post_events(restarted, another)[2]["results"][0]["status"] == "already_claimed"


def test_a_lone_surrogate_id_is_refused_and_joins_nobody(
    engine_factory: EngineFactory, tmp_path: Path
) -> None:
    db = tmp_path / "v.db"
    engine = engine_factory("default", db=db)
    body = b'{"id": "\\ud800", "type": "join", "hunt": 2, "player": 9}'
    status, _, answer = http("POST", f"{engine.url}/v1/events", raw=body)
    assert status == 400 and answer["field"] == "body" and "surrogate" in answer["error"]
    assert http("GET", f"{engine.url}/v1/players/9")[2]["hunts"] == []
    assert state_served(engine, [9]) == state_in_database(db)
    assert post_events(engine, join("after", 9, hunt=2))[0] == 200


# what each preset commits of [checkin, join "boom-..."]: default commits per event
COMMITTED_BEFORE_THE_FAILURE = {"default": ["applied", "not_applied"], "tuned": ["not_applied"] * 2}


@pytest.mark.parametrize("preset", ["default", "tuned"])
def test_an_injected_commit_failure_is_a_500_saying_so_and_changes_nothing(
    engine_factory: EngineFactory, preset: str, tmp_path: Path
) -> None:
    db = tmp_path / f"{preset}.db"
    engine = engine_factory(preset, db=db, faults={"commit_fail_prefix": "boom"})
    assert post_events(engine, join("j1", 1))[0] == 200
    status, _, answer = post_events(engine, [checkin("c1", 1), join("boom-1", 3)])
    assert status == 500 and answer["error"].startswith("commit failed")
    assert [r["status"] for r in answer["results"]] == COMMITTED_BEFORE_THE_FAILURE[preset]
    assert answer["results"][1]["reason"] == "commit failed"
    assert state_served(engine, (1, 3)) == state_in_database(db)
    # the engine goes on, and a retry without the failing event is applied as usual
    status, _, answer = post_events(engine, [checkin("c1", 1), join("j3", 3)])
    assert status == 200 and [r["status"] for r in answer["results"]] == ["applied"] * 2
    stats = http("GET", f"{engine.url}/v1/stats")[2]
    assert stats["acknowledged"] == stats["persisted"] == {"join": 2, "checkin": 1}
    assert state_served(engine, (1, 3)) == state_in_database(db)


@pytest.mark.parametrize("preset", ["default", "tuned"])
def test_a_retry_of_an_evicted_id_on_a_live_engine_returns_its_first_result(
    engine_factory: EngineFactory, preset: str, tmp_path: Path
) -> None:
    db = tmp_path / f"{preset}.db"
    engine = engine_factory(preset, db=db, storage={"recent_results": 3})
    for event in (join("j1", 1), claim("w1", 1, 1), *(checkin(f"c{i}", 1) for i in range(5))):
        assert post_events(engine, event)[0] == 200
    before = state_served(engine, [1]), http("GET", f"{engine.url}/v1/stats")[2]
    for event in (claim("w1", 1, 2), join("j1", 1), checkin("c0", 1, place=9)):
        answer = post_events(engine, event)[2]["results"][0]
        assert answer["status"] == ("won" if event["id"] == "w1" else "applied")
    after = state_served(engine, [1]), http("GET", f"{engine.url}/v1/stats")[2]
    assert after[0] == before[0] == state_in_database(db)
    assert after[1]["persisted"] == before[1]["persisted"]
    assert after[1]["acknowledged"] == before[1]["acknowledged"]
    assert after[1]["duplicates"] == before[1]["duplicates"] + 3
