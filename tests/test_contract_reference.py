"""The reference engine answers as the contract says: every route, success and each error
status that can be provoked, checked against the document by its one validator."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import EngineFactory
from veltrix_bench.contract.openapi import answer_problems, document_bytes
from veltrix_bench.engine.process import EngineProcess

Answer = tuple[int, dict[str, str], bytes]


def call(engine: EngineProcess, method: str, path: str, body: Any = None) -> Answer:
    """(status, headers, body) of one request, after checking it against the contract."""
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(engine.url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, headers, payload = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        status, headers, payload = error.code, dict(error.headers), error.read()
    assert answer_problems(method, path, status, headers, payload) == [], payload
    return status, headers, payload


def join(event_id: str, player: int) -> dict[str, Any]:
    return {"id": event_id, "type": "join", "hunt": 1, "player": player}


CHECKIN = {"id": "c-1", "type": "checkin", "hunt": 1, "player": 5, "place": 2}
CLAIM = {"id": "k-1", "type": "claim", "hunt": 1, "player": 5, "treasure": 1}


@pytest.mark.parametrize("preset", ["default", "tuned"])
def test_every_route_answers_in_its_documented_shape(
    engine_factory: EngineFactory, preset: str
) -> None:
    engine = engine_factory(preset)
    requests: list[tuple[str, str, Any, int]] = [
        ("GET", "/healthz", None, 200),
        ("POST", "/v1/events", join("j-5", 5), 200),
        ("POST", "/v1/events", [CHECKIN, {**CHECKIN, "id": "c-2"}, join("j-5b", 5)], 200),
        ("POST", "/v1/events", CLAIM, 200),
        ("GET", "/v1/hunts/1", None, 200),
        ("GET", "/v1/hunts/99", None, 404),
        ("GET", "/v1/hunts/x", None, 400),
        ("GET", "/v1/hunts/1/leaderboard", None, 200),
        ("GET", "/v1/hunts/99/leaderboard", None, 404),
        ("GET", "/v1/hunts/x/leaderboard", None, 400),
        ("GET", "/v1/players/5", None, 200),
        ("GET", "/v1/players/0", None, 404),
        ("GET", "/v1/players/x", None, 400),
        ("GET", "/v1/stats", None, 200),
        ("GET", "/metrics", None, 200),
        ("GET", "/openapi.json", None, 200),
        ("POST", "/v1/events", {**CHECKIN, "hunt": "one"}, 400),
        ("POST", "/v1/events", [CHECKIN, {**CHECKIN, "place": None}], 400),
        ("POST", "/v1/events", b"{not json", 400),
    ]
    for method, path, body, status in requests:
        assert call(engine, method, path, body)[0] == status, (method, path, body)


def test_the_engine_serves_the_document_as_it_ships(engine_factory: EngineFactory) -> None:
    assert call(engine_factory(), "GET", "/openapi.json")[2] == document_bytes()


def test_a_body_over_the_limit_is_413(engine_factory: EngineFactory) -> None:
    engine = engine_factory(http={"max_body_bytes": 256})
    events = [{**CHECKIN, "id": f"c-{i}"} for i in range(10)]
    status, _, body = call(engine, "POST", "/v1/events", events)
    assert status == 413 and json.loads(body)["field"] == "body"


def test_more_events_than_the_queue_can_ever_hold_is_413(engine_factory: EngineFactory) -> None:
    engine = engine_factory("tuned", queue={"capacity": 2})
    events = [{**CHECKIN, "id": f"c-{i}"} for i in range(3)]
    assert call(engine, "POST", "/v1/events", events)[0] == 413


def stats_until(engine: EngineProcess, key: str, value: int) -> None:
    """Wait until /v1/stats shows `key` at `value` or more (a sleep would guess how long a busy
    machine takes to get a request into the engine)."""
    deadline = time.monotonic() + 20
    while json.loads(call(engine, "GET", "/v1/stats")[2])[key] < value:
        assert time.monotonic() < deadline, f"/v1/stats never showed {key} >= {value}"
        time.sleep(0.01)


def test_a_full_queue_is_429_with_retry_after(engine_factory: EngineFactory) -> None:
    # a batch may wait 1.5 s to fill: the second request's two events hold the queue of two
    engine = engine_factory(
        "tuned",
        queue={"capacity": 2},
        processing={"batch_max_size": 100, "batch_max_wait_ms": 1500},
    )
    call(engine, "POST", "/v1/events", [join("j-1", 1), join("j-2", 2)])
    with ThreadPoolExecutor(1) as pool:
        holding = pool.submit(call, engine, "POST", "/v1/events", [join("j-3", 3), join("j-4", 4)])
        stats_until(engine, "queue_depth", 2)
        status, headers, _ = call(engine, "POST", "/v1/events", join("j-5", 5))
        assert holding.result()[0] == 200
    assert status == 429 and int(headers["Retry-After"]) >= 1


def test_shutting_down_is_503(engine_factory: EngineFactory) -> None:
    # a request held 1.5 s in the handler keeps the engine draining, and answering, meanwhile
    engine = engine_factory(faults={"event_delay_ms": 1500})
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(call, engine, "POST", "/v1/events", join("j-1", 1))
        stats_until(engine, "requests_in_flight", 1)
        engine.process.send_signal(2)  # SIGINT: the graceful stop
        deadline = time.monotonic() + 1.0
        status = call(engine, "GET", "/healthz")[0]
        while status != 503 and time.monotonic() < deadline:
            time.sleep(0.02)
            status = call(engine, "GET", "/healthz")[0]
        assert status == 503
        assert call(engine, "POST", "/v1/events", join("j-2", 2))[0] == 503
        assert held.result()[0] == 200
    assert engine.process.wait(15) == 0


@pytest.mark.parametrize("commit", ["event", "batch"])
def test_a_failed_commit_is_500_with_a_result_per_event(
    engine_factory: EngineFactory, commit: str
) -> None:
    engine = engine_factory(
        "tuned", storage={"commit": commit}, faults={"commit_fail_prefix": "boom"}
    )
    call(engine, "POST", "/v1/events", join("j-7", 7))
    status, _, payload = call(
        engine, "POST", "/v1/events", [{**CHECKIN, "player": 7}, join("boom-8", 8)]
    )
    assert status == 500
    statuses = [result["status"] for result in json.loads(payload)["results"]]
    assert statuses[-1] == "not_applied"
