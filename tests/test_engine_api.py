"""The engine's HTTP API and game rules, on a real engine with a real SQLite file."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from datetime import datetime

import aiohttp
import pytest

from tests.conftest import EngineFactory, http, post_events


def join(event_id: str, player: int, hunt: int = 1) -> dict[str, object]:
    return {"id": event_id, "type": "join", "hunt": hunt, "player": player}


def test_every_read_route_answers(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    assert http("GET", f"{engine.url}/healthz")[0] == 200
    status, _, hunt = http("GET", f"{engine.url}/v1/hunts/2")
    assert status == 200 and hunt["hunt"] == 2
    assert [c["clue"] for c in hunt["clues"]] == [1, 2, 3, 4, 5]
    assert hunt["treasures"] == [1, 2, 3] and len(hunt["places"]) == 10
    assert http("GET", f"{engine.url}/v1/hunts/99")[0] == 404
    assert http("GET", f"{engine.url}/v1/hunts/x")[0] == 400
    post_events(engine, join("j1", player=5))
    status, _, board = http("GET", f"{engine.url}/v1/hunts/1/leaderboard")
    assert status == 200 and board["leaders"] == [{"player": 5, "score": 0, "next_clue": 1}]
    status, _, player = http("GET", f"{engine.url}/v1/players/5")
    assert status == 200 and player["hunts"][0]["hunt"] == 1
    status, _, metrics = http("GET", f"{engine.url}/metrics")
    assert status == 200
    for name in (
        "veltrix_queue_depth", "veltrix_events_processed_total", "veltrix_events_rejected_total",
        "veltrix_batch_size_bucket", "veltrix_request_latency_seconds_bucket",
        "process_resident_memory_bytes",
    ):  # fmt: skip
        assert name in metrics
    status, _, stats = http("GET", f"{engine.url}/v1/stats")
    assert stats["acknowledged"] == {"join": 1} and stats["persisted"] == {"join": 1}


@pytest.mark.parametrize(
    ("preset", "http_overrides"),
    [("default", {}), ("tuned", {}), ("tuned", {"event_loop": "asyncio"})],
    ids=["default", "tuned-uvloop", "tuned-asyncio"],
)
def test_a_player_plays_a_hunt_by_the_rules(
    engine_factory: EngineFactory, preset: str, http_overrides: dict[str, str]
) -> None:
    engine = engine_factory(preset, http=http_overrides)
    answers = [c["answer"] for c in http("GET", f"{engine.url}/v1/hunts/1")[2]["clues"]]
    before_join = {"id": "c0", "type": "checkin", "hunt": 1, "player": 3, "place": 2}
    events = [
        before_join,
        join("c1", 3),
        {"id": "c2", "type": "checkin", "hunt": 1, "player": 3, "place": 2},
        {"id": "c3", "type": "solve", "hunt": 1, "player": 3, "clue": 1, "answer": "nope"},
        {"id": "c4", "type": "solve", "hunt": 1, "player": 3, "clue": 2, "answer": answers[1]},
        {"id": "c5", "type": "solve", "hunt": 1, "player": 3, "clue": 1, "answer": answers[0]},
        {"id": "c6", "type": "hint", "hunt": 1, "player": 3, "clue": 2},
        {"id": "c7", "type": "claim", "hunt": 1, "player": 3, "treasure": 2},
        join("c8", 3),
    ]
    status, _, body = post_events(engine, events)
    assert status == 200
    got = [(r["status"], r.get("reason")) for r in body["results"]]
    assert got == [
        ("rejected", "player has not joined this hunt"),
        ("applied", None),
        ("applied", None),
        ("rejected", "wrong answer"),
        ("rejected", "not the player's next clue"),
        ("applied", None),
        ("applied", None),
        ("won", None),
        ("rejected", "player already joined this hunt"),
    ]
    player = http("GET", f"{engine.url}/v1/players/3")[2]["hunts"][0]
    # checkin +1, one correct solve +10, hint -2, win +50; the wrong answer did not advance
    assert player == {"hunt": 1, "score": 59, "next_clue": 2, "place": 2}


@pytest.mark.parametrize("preset", ["default", "tuned"])
def test_exactly_one_of_many_concurrent_claims_wins(
    engine_factory: EngineFactory, preset: str
) -> None:
    engine = engine_factory(preset)
    claimers = range(1, 61)
    post_events(engine, [join(f"j{p}", p) for p in claimers])

    async def claim_all() -> list[str]:
        async with aiohttp.ClientSession() as session:

            async def claim(player: int) -> str:
                event = {"id": f"k{player}", "type": "claim", "hunt": 1, "player": player,
                         "treasure": 1}  # fmt: skip
                async with session.post(f"{engine.url}/v1/events", json=event) as answer:
                    assert answer.status == 200
                    return str((await answer.json())["results"][0]["status"])

            return await asyncio.gather(*(claim(p) for p in claimers))

    statuses = asyncio.run(claim_all())
    assert statuses.count("won") == 1
    assert statuses.count("already_claimed") == len(claimers) - 1
    assert http("GET", f"{engine.url}/v1/stats")[2]["treasures_won"] == 1


def test_a_repeated_event_id_returns_the_first_result_and_applies_nothing_twice(
    engine_factory: EngineFactory,
) -> None:
    engine = engine_factory()
    post_events(engine, join("j", 4))
    checkin = {"id": "same", "type": "checkin", "hunt": 1, "player": 4, "place": 1}
    first = post_events(engine, checkin)[2]
    again = post_events(engine, {**checkin, "place": 7})[2]
    assert first == again == {"results": [{"id": "same", "status": "applied"}]}
    assert http("GET", f"{engine.url}/v1/players/4")[2]["hunts"][0]["score"] == 1
    stats = http("GET", f"{engine.url}/v1/stats")[2]
    assert stats["persisted"] == {"join": 1, "checkin": 1} and stats["duplicates"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"42", "body"),
        (b"[]", "body"),
        (b'{"type": "join", "hunt": 1, "player": 1}', "id"),
        (b'{"id": "x", "type": "dance", "hunt": 1, "player": 1}', "type"),
        (b'{"id": "x", "type": "join", "hunt": "1", "player": 1}', "hunt"),
        (b'{"id": "x", "type": "join", "hunt": 1}', "player"),
        (b'{"id": "x", "type": "join", "hunt": 1, "player": 0}', "player"),
        (b'{"id": "x", "type": "join", "hunt": 5, "player": 1}', "hunt"),
        (b'{"id": "x", "type": "checkin", "hunt": 1, "player": 1}', "place"),
        (b'{"id": "x", "type": "solve", "hunt": 1, "player": 1, "clue": 1}', "answer"),
        (b'{"id": "x", "type": "claim", "hunt": 1, "player": 1, "treasure": 4}', "treasure"),
        (b'{"id": "x", "type": "join", "hunt": 1, "player": 1, "color": "red"}', "color"),
        (b'[{"id": "a", "type": "join", "hunt": 1, "player": 1}, {"id": "b"}]', "[1].type"),
    ],
)
@pytest.mark.parametrize("decoder", ["json", "msgspec"])
def test_a_bad_event_gets_a_400_naming_the_field_and_the_engine_keeps_serving(
    engine_factory: EngineFactory, body: bytes, field: str, decoder: str
) -> None:
    engine = engine_factory(http={"decoder": decoder})
    status, _, answer = http("POST", f"{engine.url}/v1/events", raw=body)
    assert status == 400 and answer["field"] == field
    # nothing of a half-valid array was applied, and the engine still answers
    assert http("GET", f"{engine.url}/v1/stats")[2]["persisted"] == {}
    assert post_events(engine, join("after", 1))[0] == 200


def test_an_oversized_body_gets_a_413(engine_factory: EngineFactory) -> None:
    engine = engine_factory(http={"max_body_bytes": 1024})
    big = [join(f"e{i}", i + 1) for i in range(100)]
    status, _, answer = post_events(engine, big)
    assert status == 413 and answer["field"] == "body"
    assert post_events(engine, join("small", 1))[0] == 200


def test_a_request_with_more_events_than_the_queue_holds_gets_413_naming_the_limit(
    engine_factory: EngineFactory,
) -> None:
    engine = engine_factory("tuned", queue={"capacity": 5})
    status, _, answer = post_events(engine, [join(f"e{i}", i + 1) for i in range(6)])
    # never 429: a retry could never fit
    assert status == 413 and "at most 5 events" in answer["error"]
    assert "queue.capacity" in answer["error"]
    assert http("GET", f"{engine.url}/v1/stats")[2]["persisted"] == {}
    assert post_events(engine, [join(f"e{i}", i + 1) for i in range(5)])[0] == 200


def test_shutdown_answers_503_then_exits_0_with_acknowledged_events_committed(
    engine_factory: EngineFactory, tmp_path
) -> None:
    engine = engine_factory(faults={"event_delay_ms": 300})

    async def during_shutdown() -> tuple[int, int]:
        async with aiohttp.ClientSession() as session:
            in_flight = asyncio.ensure_future(
                session.post(f"{engine.url}/v1/events", json=join("slow", 1))
            )
            await asyncio.sleep(0.1)
            engine.process.send_signal(2)
            await asyncio.sleep(0.1)
            late = await session.post(f"{engine.url}/v1/events", json=join("late", 2))
            return (await in_flight).status, late.status

    first, late = asyncio.run(during_shutdown())
    assert engine.process.wait(10) == 0
    assert (first, late) == (200, 503)
    restarted = engine_factory()
    assert http("GET", f"{restarted.url}/v1/stats")[2]["persisted"] == {"join": 1}


def test_the_stall_fault_blocks_the_engine_on_a_fixed_cadence_and_logs_each_stall(
    engine_factory: EngineFactory,
) -> None:
    engine = engine_factory("tuned", faults={"stall_ms": 150, "stall_every_s": 0.4})
    time.sleep(1.8)
    status, _, _ = http("GET", f"{engine.url}/healthz")
    starts, lengths = [], []
    for line in engine.log_path.read_text().splitlines():
        if "fault: stalled the process" in line:
            ended = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            length_ms = float(line.split("for ")[1].split(" ms")[0])
            starts.append(ended - length_ms / 1000)
            lengths.append(length_ms)
    assert status == 200
    assert len(starts) >= 3 and all(150 <= ms < 1000 for ms in lengths)
    # start to start, not end to start: the stalled share of time is 150 ms / 400 ms
    cadence = statistics.median(b - a for a, b in itertools.pairwise(starts))
    assert 0.35 < cadence < 0.47
