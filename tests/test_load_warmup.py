"""The warm-up before the load window: its requests reach the engine, but nothing about them
is counted or recorded (the window, its ticks and its histograms start after it)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import EngineFactory, GeneratorFactory, generator_output, http
from tests.test_load_generator import WORLD, hlog_total
from veltrix_bench.load.hlog import LATENCY_LOG, SERVICE_LOG
from veltrix_bench.load.protocol import Final, Ready, Tick
from veltrix_bench.load.scenario import load_scenario
from veltrix_bench.load.spec import EVENT_TYPES


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_warm_up_requests_reach_the_engine_but_not_the_counts_or_histograms(
    engine_factory: EngineFactory,
    generator_factory: GeneratorFactory,
    tmp_path: Path,
    processes: int,
) -> None:
    engine = engine_factory("tuned", world=WORLD)
    spec = load_scenario("smoke").to_load_spec(
        engine.url, tmp_path, rate=50, users=None, duration_s=2, seed=5, run_tag="warm",
        warmup_s=1.0,
    )  # fmt: skip
    spec = replace(
        spec, max_in_flight=50, world=replace(spec.world, players=WORLD["players"]),
        processes=processes, master_port=0,
    )  # fmt: skip
    code, lines = generator_output(generator_factory(spec))
    assert code == 0, (tmp_path / "load.log").read_text()[-2000:]

    final = lines[-1]
    assert isinstance(lines[0], Ready) and isinstance(final, Final)
    # the window's 100 requests only: 50 more went out during the warm-up
    assert final.scheduled == final.started == final.requests.total == 100
    assert sum(line.requests for line in lines if isinstance(line, Tick)) == 100
    assert hlog_total(tmp_path / LATENCY_LOG) == hlog_total(tmp_path / SERVICE_LOG) == 100
    assert sum(final.sent_by_type.values()) == 150
    # ... and reached the engine: it acknowledged every event the players sent, warm-up too
    _, _, stats = http("GET", f"{engine.url}/v1/stats")
    acknowledged = stats["acknowledged"]
    for event_type in EVENT_TYPES:
        sent = final.sent_by_type.get(event_type, 0)
        assert acknowledged.get(event_type, 0) == final.acked_by_type.get(event_type, 0) == sent
    # the window opened after the warm-up: its first second has the window's rate, no more
    first = next(line for line in lines if isinstance(line, Tick))
    assert first.t == 1 and first.requests <= 51


def test_a_scenario_says_warmup_in_its_load_section_and_the_command_line_overrides_it(
    tmp_path: Path,
) -> None:
    scenario_file = tmp_path / "warm.toml"
    scenario_file.write_text('name = "warm"\n[load]\nrate = 10\nduration = "2s"\nwarmup = "2s"\n')
    scenario = load_scenario(str(scenario_file))
    options = {"rate": None, "users": None, "duration_s": None, "seed": None, "run_tag": "t"}
    spec = scenario.to_load_spec("http://127.0.0.1:1", tmp_path, **options)  # type: ignore[arg-type]
    assert spec.warmup_s == 2.0
    assert spec.arrival_stages == ((2.0, 10.0), (2.0, 10.0))
    overridden = scenario.to_load_spec(
        "http://127.0.0.1:1",
        tmp_path,
        warmup_s=0.0,
        **options,  # type: ignore[arg-type]
    )
    assert overridden.warmup_s == 0.0 and overridden.arrival_stages == ((2.0, 10.0),)
    closed = scenario.to_load_spec(
        "http://127.0.0.1:1",
        tmp_path,
        **{**options, "users": 3},  # type: ignore[arg-type]
    )
    assert closed.warmup_s == 0.0  # the closed model has no rate to warm up at
