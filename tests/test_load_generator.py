"""The generator process end to end against a real engine: protocol, files, SIGINT."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from hdrh.log import HistogramLogReader

from tests.conftest import EngineFactory, GeneratorFactory, generator_output
from veltrix_bench.hdr import new_histogram
from veltrix_bench.load.hlog import LATENCY_LOG, SERVICE_LOG
from veltrix_bench.load.protocol import Final, Ready, Tick
from veltrix_bench.load.scenario import load_scenario
from veltrix_bench.load.spec import EVENT_TYPES, LoadSpec
from veltrix_bench.run.generator_process import GeneratorProcess

pytestmark = pytest.mark.slow

WORLD = {"hunts": 2, "players": 100, "places_per_hunt": 4, "clues_per_hunt": 3}


def spec_for(url: str, out_dir: Path, *, rate: float, duration_s: float) -> LoadSpec:
    scenario = load_scenario("smoke")
    spec = scenario.to_load_spec(
        url, out_dir, rate=rate, users=None, duration_s=duration_s, seed=5, run_tag="e2e"
    )
    world = replace(spec.world, players=WORLD["players"])
    return replace(spec, max_in_flight=50, world=world)


def hlog_total(path: Path) -> int:
    reader = HistogramLogReader(str(path), new_histogram())
    merged = new_histogram()
    while (interval := reader.get_next_interval_histogram()) is not None:
        merged.add(interval)
    return int(merged.get_total_count())


def test_a_short_open_run_reports_every_second_and_a_consistent_final(
    engine_factory: EngineFactory, generator_factory: GeneratorFactory, tmp_path: Path
) -> None:
    engine = engine_factory("tuned", world=WORLD)
    spec = spec_for(engine.url, tmp_path, rate=50, duration_s=3)
    code, lines = generator_output(generator_factory(spec))
    assert code == 0

    assert isinstance(lines[0], Ready) and lines[0].users == 50
    ticks = [line for line in lines if isinstance(line, Tick)]
    assert [tick.t for tick in ticks[:3]] == [1, 2, 3]
    assert all(tick.target_rate == 50 for tick in ticks[:3])
    final = lines[-1]
    assert isinstance(final, Final)
    assert not final.interrupted and final.drained and final.unanswered == 0
    assert final.scheduled == final.started == final.requests.total == 150
    assert final.requests.errors == 0 and final.error_samples == []
    assert sum(tick.requests for tick in ticks) == final.requests.total
    assert final.sent_by_type["join"] > 0
    for event_type in EVENT_TYPES:
        assert final.acked_by_type.get(event_type, 0) == final.sent_by_type.get(event_type, 0)
    assert all(count == 1 for count in final.wins_seen.values())
    assert final.latency_ms.p50 is not None and final.service_time_ms.p50 is not None
    assert final.latency_ms.p50 >= final.service_time_ms.p50
    assert hlog_total(tmp_path / LATENCY_LOG) == final.requests.total
    assert hlog_total(tmp_path / SERVICE_LOG) == final.requests.total


def test_sigint_stops_within_two_seconds_with_partial_results(
    engine_factory: EngineFactory, generator_factory: GeneratorFactory, tmp_path: Path
) -> None:
    engine = engine_factory("tuned", world=WORLD)
    spec = spec_for(engine.url, tmp_path, rate=50, duration_s=60)
    generator = generator_factory(spec)
    ready = generator.lines.get(timeout=60)
    assert isinstance(ready, Ready)
    time.sleep(1.5)

    generator.interrupt()  # SIGINT
    signalled = time.monotonic()
    code, lines = generator_output(generator, timeout=10)
    assert time.monotonic() - signalled < 2.0
    assert code == 0
    final = lines[-1]
    assert isinstance(final, Final) and final.interrupted
    assert 1.0 < final.duration_s < 5.0
    assert final.requests.total > 0
    assert hlog_total(tmp_path / LATENCY_LOG) == final.requests.total


def test_a_closed_run_measures_latency_as_service_time(
    engine_factory: EngineFactory, generator_factory: GeneratorFactory, tmp_path: Path
) -> None:
    engine = engine_factory("tuned", world=WORLD)
    open_spec = spec_for(engine.url, tmp_path, rate=50, duration_s=2)
    spec = replace(open_spec, model="closed", stages=((2.0, 0.0),), users=5)
    code, lines = generator_output(generator_factory(spec))
    assert code == 0
    ticks = [line for line in lines if isinstance(line, Tick)]
    final = lines[-1]
    assert isinstance(final, Final)
    assert all(tick.target_rate is None for tick in ticks)
    assert final.requests.total == final.started == final.scheduled > 0
    assert final.late_starts.in_flight_cap == final.late_starts.generator == 0
    assert final.latency_ms == final.service_time_ms


def test_a_generator_started_before_its_spec_waits_for_it_and_ends_without_one(
    engine_factory: EngineFactory, tmp_path: Path
) -> None:
    """vbench starts the generator while the engine starts (it imports meanwhile) and gives it
    the spec's path on stdin; a run that stops first closes stdin, and it ends, loading nothing."""
    unused = GeneratorProcess(tmp_path / "unused.log")
    waiting = GeneratorProcess(tmp_path / "load.log")
    try:
        time.sleep(0.5)
        assert unused.alive() and waiting.alive()  # each waits for a spec
        unused.interrupt()
        assert generator_output(unused, timeout=30) == (0, [])

        engine = engine_factory("tuned", world=WORLD)
        spec_path = tmp_path / "spec.json"
        spec_path.write_text(spec_for(engine.url, tmp_path, rate=50, duration_s=1).to_json())
        waiting.load(spec_path)
        code, lines = generator_output(waiting)
        assert code == 0 and isinstance(lines[0], Ready) and isinstance(lines[-1], Final)
        assert lines[-1].requests.total > 0
    finally:
        for process in (unused, waiting):
            process.interrupt()
            process.wait(10)
