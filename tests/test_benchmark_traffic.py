"""The independent client's copy of a scenario's traffic: the requests vbench's players make."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from benchmarks._openloop import HttpRequest, _RawSender, _Recorder
from benchmarks.trial import PlayerTraffic
from veltrix_bench.engine.config import load_config
from veltrix_bench.engine.world import World
from veltrix_bench.load.scenario import load_scenario


def _steady_world() -> World:
    world = load_scenario("steady").world.model_dump()
    return World.generate(load_config("tuned").with_overrides(world=world).world)


def _kind(request: bytes | HttpRequest) -> str:
    if isinstance(request, HttpRequest):
        return "leaderboard" if request.path.endswith("/leaderboard") else "player"
    return str(json.loads(request)["type"])


def test_every_player_joins_before_anything_else_of_theirs() -> None:
    world = _steady_world()
    requests = PlayerTraffic("steady", world, seed=1).play(40_000)
    joined: set[int] = set()
    for request in requests:
        if isinstance(request, HttpRequest):
            continue
        event = json.loads(request)
        if event["type"] == "join":
            assert event["player"] not in joined
            joined.add(event["player"])
        else:
            assert event["player"] in joined, event
    assert len(joined) == world.config.players == 3000


def test_the_mix_is_the_scenarios_with_its_reads() -> None:
    requests = PlayerTraffic("steady", _steady_world(), seed=1).play(40_000)
    kinds = Counter(_kind(r) for r in requests[10_000:])  # after nearly everyone joined
    total = sum(v for k, v in kinds.items() if k != "join")
    weights = load_scenario("steady").mix.action_mix().weights()
    weight_sum = sum(weights.values())
    for kind, weight in weights.items():
        assert abs(kinds[kind] / total - weight / weight_sum) < 0.02, (kind, kinds)


def test_a_correct_solve_moves_the_player_to_the_next_clue() -> None:
    world = _steady_world()
    answers = {hunt.hunt: hunt.answers for hunt in world.hunts}
    solved: Counter[tuple[int, int]] = Counter()
    for request in PlayerTraffic("steady", world, seed=3).play(30_000):
        if isinstance(request, HttpRequest):
            continue
        event = json.loads(request)
        if event["type"] != "solve":
            continue
        key = (event["hunt"], event["player"])
        expected_clue = min(solved[key], len(answers[event["hunt"]]) - 1) + 1
        assert event["clue"] == expected_clue
        if event["answer"] == answers[event["hunt"]][event["clue"] - 1]:
            solved[key] += 1
    assert max(solved.values()) >= 2


def test_the_raw_client_sends_a_read_as_a_get_without_a_body() -> None:
    async def prepared() -> tuple[bytes, bytes]:
        sender = _RawSender("127.0.0.1", 8080, 1, _Recorder(0.0, 0.0, 1.0))
        get = sender.prepare("/v1/events", HttpRequest("GET", "/v1/hunts/1/leaderboard"))
        post = sender.prepare("/v1/events", b"{}")
        return get, post

    get, post = asyncio.run(prepared())
    assert get == b"GET /v1/hunts/1/leaderboard HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
    assert post.startswith(b"POST /v1/events HTTP/1.1\r\n")
    assert post.endswith(b"Content-Length: 2\r\n\r\n{}")
