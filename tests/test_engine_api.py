"""The engine's HTTP API and game rules, on a real engine with a real SQLite file."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from tests.conftest import EngineFactory, http, post_events
from veltrix_bench.engine.config import load_config
from veltrix_bench.engine.process import EngineProcess, start_engine


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
    for spelling in ("x", "%201", "1_0", "%D9%A1", "+1", "99999999999999999999999"):
        assert http("GET", f"{engine.url}/v1/hunts/{spelling}")[0] == 400, spelling
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


# (body, headers, status, the field named: one for both decoders, or one per decoder)
MALFORMED: dict[str, tuple[bytes, dict[str, str], int, str | dict[str, str]]] = {
    "not JSON": (b"{not json", {}, 400, "body"),
    "empty body": (b"", {}, 400, "body"),
    "a number": (b"42", {}, 400, "body"),
    "an empty array": (b"[]", {}, 400, "body"),
    "no id": (b'{"type": "join", "hunt": 1, "player": 1}', {}, 400, "id"),
    "null id": (b'{"id": null, "type": "join", "hunt": 1, "player": 1}', {}, 400, "id"),
    "id too long": (b'{"id": "' + b"i" * 201 + b'", "type": "join", "hunt": 1, "player": 1}',
                    {}, 400, "id"),
    "unknown type": (b'{"id": "x", "type": "dance", "hunt": 1, "player": 1}', {}, 400, "type"),
    "type an array": (b'{"id": "x", "type": [1], "hunt": 1, "player": 1}', {}, 400, "type"),
    "type an object": (b'{"id": "x", "type": {}, "hunt": 1, "player": 1}', {}, 400, "type"),
    "hunt a string": (b'{"id": "x", "type": "join", "hunt": "1", "player": 1}', {}, 400, "hunt"),
    "hunt a float": (b'{"id": "x", "type": "join", "hunt": 1.5, "player": 1}', {}, 400, "hunt"),
    "hunt 1e400": (b'{"id": "x", "type": "join", "hunt": 1e400, "player": 1}', {}, 400, "hunt"),
    "hunt NaN": (b'{"id": "x", "type": "join", "hunt": NaN, "player": 1}', {}, 400, "body"),
    "player a bool": (b'{"id": "x", "type": "join", "hunt": 1, "player": true}', {}, 400,
                      "player"),
    "player 30 digits": (b'{"id": "x", "type": "join", "hunt": 1, "player": 1'
                         + b"0" * 29 + b"}", {}, 400, "player"),
    # past the json module's limit on digits: a parse error there, a range error in msgspec
    "player 5000 digits": (b'{"id": "x", "type": "join", "hunt": 1, "player": 1'
                           + b"0" * 4999 + b"}", {}, 400, {"json": "body", "msgspec": "player"}),
    "no player": (b'{"id": "x", "type": "join", "hunt": 1}', {}, 400, "player"),
    "player 0": (b'{"id": "x", "type": "join", "hunt": 1, "player": 0}', {}, 400, "player"),
    "hunt out of range": (b'{"id": "x", "type": "join", "hunt": 5, "player": 1}', {}, 400,
                          "hunt"),
    "no place": (b'{"id": "x", "type": "checkin", "hunt": 1, "player": 1}', {}, 400, "place"),
    "no answer": (b'{"id": "x", "type": "solve", "hunt": 1, "player": 1, "clue": 1}', {}, 400,
                  "answer"),
    "treasure out of range": (b'{"id": "x", "type": "claim", "hunt": 1, "player": 1,'
                              b' "treasure": 4}', {}, 400, "treasure"),
    "unknown field": (b'{"id": "x", "type": "join", "hunt": 1, "player": 1, "color": "red"}',
                      {}, 400, "color"),
    "null for a field of another type": (b'{"id": "x", "type": "join", "hunt": 1, "player": 1,'
                                         b' "clue": null}', {}, 400, "clue"),
    "null place": (b'{"id": "x", "type": "checkin", "hunt": 1, "player": 1, "place": null}', {},
                   400, "place"),
    "second event bad": (b'[{"id": "a", "type": "join", "hunt": 1, "player": 1}, {"id": "b"}]',
                         {}, 400, "[1].type"),
    "an array of arrays": (b'[[{"id": "a", "type": "join", "hunt": 1, "player": 1}]]', {}, 400,
                           "[0]"),
    # the json module recurses until Python's limit; msgspec stops at the first wrong type
    "1,500 nested arrays": (b"[" * 1500 + b"]" * 1500, {}, 400,
                            {"json": "body", "msgspec": "[0]"}),
    "lone surrogate id": (b'{"id": "\\ud800", "type": "join", "hunt": 2, "player": 9}', {}, 400,
                          "body"),
    "lone low surrogate": (b'{"id": "a\\udc00", "type": "join", "hunt": 1, "player": 1}', {},
                           400, "body"),
    "lone surrogate answer": (b'{"id": "x", "type": "solve", "hunt": 1, "player": 1, "clue": 1,'
                              b' "answer": "\\udbff"}', {}, 400, "body"),
    "lone surrogate key": (b'{"id": "x", "type": "join", "hunt": 1, "player": 1, "\\ud800": 1}',
                           {}, 400, "body"),
    "surrogate as UTF-8 bytes": (b'{"id": "\xed\xa0\x80", "type": "join", "hunt": 1, "player": 1}',
                                 {}, 400, "body"),
    "not UTF-8": (b'{"id": "\xff", "type": "join", "hunt": 1, "player": 1}', {}, 400, "body"),
    "UTF-8 byte order mark": (b'\xef\xbb\xbf{"id": "x", "type": "join", "hunt": 1, "player": 1}',
                              {}, 400, "body"),
    "UTF-16": ('{"id": "x", "type": "join", "hunt": 1, "player": 1}'.encode("utf-16"), {}, 400,
               "body"),
    "gzip on a plain body": (b'{"id": "x", "type": "join", "hunt": 1, "player": 1}',
                             {"Content-Encoding": "gzip"}, 415, "Content-Encoding"),
    "deflate on a plain body": (b'{"id": "x", "type": "join", "hunt": 1, "player": 1}',
                                {"Content-Encoding": "deflate"}, 415, "Content-Encoding"),
}  # fmt: skip


@pytest.fixture(scope="module", params=["json", "msgspec"])
def decoding_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, EngineProcess]]:
    """(decoder, its engine): one engine per decoder for every malformed body."""
    folder = tmp_path_factory.mktemp(f"decoder-{request.param}")
    config = load_config("default").with_overrides(http={"decoder": request.param})
    (folder / "engine.toml").write_text(config.to_toml())
    engine = start_engine(folder / "engine.toml", folder / "v.db", folder / "engine.log")
    yield request.param, engine
    engine.stop()


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_request_gets_a_4xx_naming_what_is_wrong_and_the_engine_keeps_serving(
    decoding_engine: tuple[str, EngineProcess], case: str
) -> None:
    body, headers, expected_status, field = MALFORMED[case]
    decoder, engine = decoding_engine
    persisted = http("GET", f"{engine.url}/v1/stats")[2]["persisted"]
    status, _, answer = http("POST", f"{engine.url}/v1/events", raw=body, headers=headers)
    assert status == expected_status, answer
    assert answer["field"] == (field if isinstance(field, str) else field[decoder]), answer
    assert answer["error"]
    # nothing of it was applied, and the engine still answers
    assert http("GET", f"{engine.url}/v1/stats")[2]["persisted"] == persisted
    assert post_events(engine, join(f"after {case}", 1))[0] == 200


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


async def _until(
    session: aiohttp.ClientSession, url: str, done: Callable[[int, Any], bool]
) -> None:
    """GET url every 10 ms until done(status, decoded JSON body) says so (10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        async with session.get(url) as answer:
            body = await answer.json() if answer.content_type == "application/json" else None
            if done(answer.status, body):
                return
        assert time.monotonic() < deadline, f"{url}: not yet after 10 s"
        await asyncio.sleep(0.01)


def test_shutdown_answers_503_then_exits_0_with_acknowledged_events_committed(
    engine_factory: EngineFactory, tmp_path
) -> None:
    engine = engine_factory(faults={"event_delay_ms": 300})

    async def during_shutdown() -> tuple[int, int]:
        async with aiohttp.ClientSession() as session:
            in_flight = asyncio.ensure_future(
                session.post(f"{engine.url}/v1/events", json=join("slow", 1))
            )
            # the slow request is inside the engine, then the shutdown has begun: polled,
            # not slept, so that a busy machine cannot reorder the three
            await _until(session, f"{engine.url}/v1/stats", lambda status, body: status == 200
                         and body["requests_in_flight"] >= 1)  # fmt: skip
            engine.process.send_signal(2)
            await _until(session, f"{engine.url}/healthz", lambda status, _: status == 503)
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
