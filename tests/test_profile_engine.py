"""Profiled runs against a real engine: memray allocations and py-spy samples of a short load."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest
from msgspec import to_builtins

from veltrix_bench.engine.config import load_config
from veltrix_bench.engine.process import EngineProcess, start_engine
from veltrix_bench.profile import ProfileReport, ProfileSession

pytestmark = pytest.mark.slow


def drive(engine: EngineProcess, events: int) -> None:
    """Join a player, check them in; repeat: the same mix of events at any count."""
    connection = http.client.HTTPConnection(engine.host, engine.port, timeout=30)
    try:
        for index in range(events):
            player = index // 2 + 1
            if index % 2 == 0:
                event = {"id": f"e{index}", "type": "join", "hunt": 1, "player": player}
            else:
                place = index % 10 + 1
                event = {
                    "id": f"e{index}", "type": "checkin", "hunt": 1, "player": player,
                    "place": place,
                }  # fmt: skip
            connection.request("POST", "/v1/events", json.dumps(event))
            answer = connection.getresponse()
            assert answer.status == 200, answer.read()
            answer.read()
    finally:
        connection.close()


def acknowledged(engine: EngineProcess) -> int:
    connection = http.client.HTTPConnection(engine.host, engine.port, timeout=30)
    try:
        connection.request("GET", "/v1/stats")
        stats: dict[str, Any] = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    return sum(stats["acknowledged"].values())


def profiled_run(run_dir: Path, kinds: set[str], events: int) -> ProfileReport:
    """What the orchestrator does, in order, around a load of `events` events."""
    run_dir.mkdir()
    config = run_dir / "engine.toml"
    config.write_text(load_config("default").with_overrides(world={"players": 1000}).to_toml())
    session = ProfileSession(run_dir, kinds)
    engine = start_engine(
        config, run_dir / "engine.db", run_dir / "engine.log", wrapper=session.engine_wrapper()
    )
    try:
        before = acknowledged(engine)
        session.begin_window(engine.pid)
        drive(engine, events)
        after = acknowledged(engine)
        session.end_window()
    finally:
        session.end_window()
        assert engine.stop() == 0
    return session.finish(after - before)


def test_allocations_grow_with_events_and_cpu_has_a_handler_share(tmp_path: Path) -> None:
    small = to_builtins(profiled_run(tmp_path / "small", {"memory", "cpu"}, 150).summary_blocks())
    large = to_builtins(profiled_run(tmp_path / "large", {"memory"}, 300).summary_blocks())

    for blocks, events in ((small, 150), (large, 300)):
        memory = blocks["memory"]
        assert memory is not None, blocks["profiles_skipped"]
        assert memory["events"] == events
        assert memory["allocations"] > 0
        assert sum(memory["allocations_by_layer"].values()) == memory["allocations"]
        assert memory["per_event_by_layer"]["handler"] > 0
        assert memory["per_event_by_layer"]["http"] > 0
        assert memory["window_closed_by"] == "signal"
    ratio = large["memory"]["allocations"] / small["memory"]["allocations"]
    assert 2 * 0.65 <= ratio <= 2 * 1.35, ratio
    assert (tmp_path / "small" / "memray-flamegraph.html").stat().st_size > 0

    if "cpu" in small["profiles_skipped"]:
        reason = small["profiles_skipped"]["cpu"]
        assert "ptrace" in reason
        pytest.skip(f"py-spy cannot attach on this machine: {reason}")
    cpu = small["cpu"]
    assert cpu["samples"] > 0
    assert 0 < cpu["handler_share"] <= 1
    assert len(cpu["top_self"]) <= 15 and len(cpu["top_total"]) <= 15
    for name in ("cpu.folded", "cpu.svg", "cpu.speedscope.json"):
        assert (tmp_path / "small" / name).stat().st_size > 0
