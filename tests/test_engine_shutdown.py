"""Half-sent requests time out, shutdown is bounded whatever clients do, and a drain deadline
inside a request answers each of its events."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import EngineFactory, http, post_events
from tests.engine_state import persisted_results
from veltrix_bench.engine.process import EngineProcess

JOIN = b'{"id": "x", "type": "join", "hunt": 1, "player": 1}'


def _connect(engine: EngineProcess, first_bytes: bytes = b"") -> socket.socket:
    client = socket.create_connection(("127.0.0.1", engine.port), timeout=10)
    if first_bytes:
        client.sendall(first_bytes)
    return client


def _head(length: int) -> bytes:
    return (
        f"POST /v1/events HTTP/1.1\r\nHost: engine\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _read_all(client: socket.socket, timeout: float) -> tuple[bytes, float]:
    """What the engine sends until it closes the connection, and when it closed it."""
    client.settimeout(timeout)
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received, time.monotonic()


def test_a_half_sent_request_head_is_closed_after_the_header_timeout(
    engine_factory: EngineFactory,
) -> None:
    engine = engine_factory(http={"header_timeout_s": 0.5})
    started = time.monotonic()
    half = _connect(engine, b"POST /v1/events HTTP/1.1\r\nHost: engine\r\nContent-Le")
    received, closed_at = _read_all(half, timeout=10)
    assert received == b"" and 0.4 < closed_at - started < 3
    # a request sent whole on a new connection is answered as usual
    prompt = _connect(engine, _head(len(JOIN)) + JOIN)
    assert prompt.recv(65536).startswith(b"HTTP/1.1 200")
    prompt.close()


def test_a_half_sent_body_gets_a_408_after_the_body_timeout(engine_factory: EngineFactory) -> None:
    engine = engine_factory(http={"body_timeout_s": 0.5})
    started = time.monotonic()
    half = _connect(engine, _head(len(JOIN)) + JOIN[:10])
    half.settimeout(10)
    answer = half.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408") and 0.4 < time.monotonic() - started < 3
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["field"] == "body"
    half.close()
    assert post_events(engine, json.loads(JOIN))[0] == 200
    assert http("GET", f"{engine.url}/v1/stats")[2]["persisted"] == {"join": 1}


def test_shutdown_finishes_within_the_drain_timeout_whatever_clients_send(
    engine_factory: EngineFactory,
) -> None:
    drain_s = 1.0
    # the read timeouts are long: shutdown must not wait for them
    engine = engine_factory(
        "tuned",
        shutdown={"drain_timeout_s": drain_s},
        http={"header_timeout_s": 600, "body_timeout_s": 600},
    )
    clients = [
        _connect(engine),  # connected, sends nothing
        _connect(engine, b"POST /v1/events HTTP/1.1\r\nHost: engine\r\nContent-Le"),
        _connect(engine, _head(200) + JOIN[:20]),  # a body that never ends
        _connect(engine, _head(len(JOIN)) + JOIN),  # a whole request, its answer never read
    ]
    time.sleep(0.5)  # the engine has read what each sent
    started = time.monotonic()
    engine.process.send_signal(signal.SIGTERM)
    code = engine.process.wait(drain_s + 10)
    took = time.monotonic() - started
    assert code == 0 and took < drain_s + 2
    for client in clients:
        client.close()


def test_a_drain_deadline_inside_a_request_answers_each_event(
    engine_factory: EngineFactory, tmp_path: Path
) -> None:
    db = tmp_path / "v.db"
    # one event per commit, each waiting for its fsync: 3,000 of them take seconds
    engine = engine_factory("default", db=db, shutdown={"drain_timeout_s": 0.3})
    events = [
        {"id": f"j{i}", "type": "join", "hunt": 1 + i // 2000, "player": 1 + i % 2000}
        for i in range(3000)
    ]
    answered: list[tuple[int, dict[str, str], Any]] = []
    sender = threading.Thread(target=lambda: answered.append(post_events(engine, events)))
    sender.start()
    deadline = time.monotonic() + 20
    while http("GET", f"{engine.url}/v1/stats")[2]["persisted"].get("join", 0) < 10:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    engine.process.send_signal(signal.SIGTERM)
    sender.join(30)
    assert engine.process.wait(10) == 0
    ((status, headers, answer),) = answered
    assert status == 503 and headers["Retry-After"] == "1"
    statuses = [r["status"] for r in answer["results"]]
    committed = statuses.index("not_applied")
    assert 10 <= committed < len(events)
    assert statuses == ["applied"] * committed + ["not_applied"] * (len(events) - committed)
    assert answer["results"][-1]["reason"] == "engine is shutting down"
    assert answer["error"].startswith(f"engine is shutting down: {len(events) - committed} of")
    # what the answer says is committed is exactly what the database holds
    assert set(persisted_results(db)) == {f"j{i}" for i in range(committed)}
