"""Distributed runs: exact merges, the split schedule, master and workers on loopback."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from hdrh.log import HistogramLogReader

from tests.conftest import EngineFactory, GeneratorFactory, generator_output
from veltrix_bench.errors import EXIT_RUN_FAILED
from veltrix_bench.hdr import new_histogram
from veltrix_bench.load.arrival import ArrivalSchedule, planned_slots
from veltrix_bench.load.hlog import LATENCY_LOG
from veltrix_bench.load.merge import ShareTally, merge_interval, merge_results, merged
from veltrix_bench.load.messages import IntervalReport, Report, ShareResult, pack, unpack
from veltrix_bench.load.protocol import Error, Final, LateStarts, Line, RequestCounts, Tick
from veltrix_bench.load.scenario import load_scenario
from veltrix_bench.load.spec import LoadSpec
from veltrix_bench.run.generator_process import GeneratorProcess

WORLD = {"hunts": 2, "players": 100, "places_per_hunt": 4, "clues_per_hunt": 3}


def _tick(t: float, requests: int) -> Tick:
    return Tick(t, requests, requests, 0, 0, None, 0, 0, 0, None, None, None, None, None)


def test_merged_histograms_hold_exactly_the_samples_of_one_fed_everything() -> None:
    rng = random.Random(3)
    one, two, everything = new_histogram(), new_histogram(), new_histogram()
    for histogram, scale in ((one, 800.0), (two, 40_000.0)):
        for _ in range(5000):
            value = int(rng.expovariate(1 / scale)) + 1
            histogram.record_value(value)
            everything.record_value(value)
    combined = merged([one.encode(), two.encode()])
    assert combined.get_total_count() == one.get_total_count() + two.get_total_count() == 10_000
    wanted = [50, 90, 99, 99.9, 100]
    assert combined.get_percentile_to_value_dict(wanted) == (
        everything.get_percentile_to_value_dict(wanted)
    )
    assert combined.get_max_value() == everything.get_max_value()


def test_a_merged_tick_sums_the_workers_counts_and_merges_their_percentiles() -> None:
    latency_a, latency_b, everything = new_histogram(), new_histogram(), new_histogram()
    for value in range(1, 101):
        latency_a.record_value(value * 10)
        everything.record_value(value * 10)
    for value in range(1, 301):
        latency_b.record_value(value * 1000)
        everything.record_value(value * 1000)
    shipped = Report([IntervalReport.of(_tick(1, 100), latency_a, latency_a)])
    reports = [
        *unpack(pack(shipped), Report).intervals,
        IntervalReport.of(_tick(1, 300), latency_b, latency_b),
    ]
    tick, latency, _ = merge_interval(1, reports, 400.0)
    assert tick.requests == 400 and tick.ok == 400
    assert latency.get_total_count() == 400
    assert tick.p99_ms == round(everything.get_value_at_percentile(99) / 1000, 3)


def test_merged_results_are_the_sums_of_the_workers_and_count_a_lost_one_by_its_seconds() -> None:
    finished = ShareTally("worker 0")
    histogram = new_histogram()
    for value in (100, 200, 300):
        histogram.record_value(value)
    empty = new_histogram().encode()
    result = ShareResult(
        interrupted=False, drained=True, started=3, unanswered=0,
        requests=RequestCounts(3, 2, 1, 0), late_starts=LateStarts(1, 0),
        acked_by_type={"join": 2}, sent_by_type={"join": 3}, wins_seen={"1:1": 1},
        error_samples=["x"], latency=histogram.encode(), service=histogram.encode(),
        start_delay=empty, loop_lag=empty, peak_rss_mb=50.0, cpu_share=0.4,
    )  # fmt: skip
    finished.result = unpack(pack(Report([], result)), Report).result
    lost = ShareTally("worker 1")
    lost.add_interval(IntervalReport.of(_tick(1, 2), histogram, histogram))
    lost.lost = "worker 1 lost: killed"
    total = merge_results([finished, lost])
    assert total.requests.total == 3 + 2
    assert total.latency.get_total_count() == 3 + 3  # the lost worker's interval held 3 samples
    assert total.acked_by_type == {"join": 2}
    assert not total.drained
    assert [w.lost for w in total.workers] == [None, "worker 1 lost: killed"]


@pytest.mark.parametrize("shares", [2, 3])
def test_split_schedules_together_offer_exactly_the_whole_schedule(shares: int) -> None:
    stages = ((2.0, 97.0), (1.5, 31.0), (1.0, 0.0), (0.7, 12.5))
    whole = ArrivalSchedule(stages, 0.0)
    expected = []
    while (slot := whole.take(0.0)) is not None:
        expected.append(slot.intended_start)
    parts = []
    for k in range(shares):
        schedule = ArrivalSchedule(stages, 0.0, (k, shares))
        while (slot := schedule.take(0.0)) is not None:
            parts.append(slot.intended_start)
    assert sorted(parts) == sorted(expected)
    assert len(parts) == planned_slots(stages, 10.0)


# -- master and workers on loopback -------------------------------------------------------


def spec_for(
    url: str, out_dir: Path, *, rate: float, duration_s: float, **options: object
) -> LoadSpec:
    spec = load_scenario("smoke").to_load_spec(
        url, out_dir, rate=rate, users=None, duration_s=duration_s, seed=5, run_tag="dist"
    )
    spec = replace(spec, max_in_flight=40, world=replace(spec.world, players=WORLD["players"]))
    return replace(spec, master_port=0, **options)  # type: ignore[arg-type]


def hlog_total(path: Path) -> int:
    reader = HistogramLogReader(str(path), new_histogram())
    total = new_histogram()
    while (interval := reader.get_next_interval_histogram()) is not None:
        total.add(interval)
    return int(total.get_total_count())


@pytest.mark.slow
def test_two_local_workers_merge_to_exactly_the_sum_of_their_shares(
    engine_factory: EngineFactory, generator_factory: GeneratorFactory, tmp_path: Path
) -> None:
    engine = engine_factory("tuned", world=WORLD)
    spec = spec_for(engine.url, tmp_path, rate=100, duration_s=3, processes=2)
    code, lines = generator_output(generator_factory(spec))
    assert code == 0, (tmp_path / "load.log").read_text()[-3000:]
    final = lines[-1]
    assert isinstance(final, Final)
    ticks = [line for line in lines if isinstance(line, Tick)]
    assert final.processes == 2 and len(final.workers) == 2
    assert all(worker.requests.total > 0 for worker in final.workers)
    assert final.requests.total == sum(worker.requests.total for worker in final.workers)
    assert final.requests.ok == sum(worker.requests.ok for worker in final.workers)
    assert final.requests.total == sum(tick.requests for tick in ticks)
    assert hlog_total(tmp_path / LATENCY_LOG) == final.requests.total
    # the rate was split, not doubled: the two together offered the one schedule
    assert final.scheduled == planned_slots(spec.stages, final.duration_s)
    assert final.started == final.requests.total == final.scheduled
    assert final.drained and not final.lost_workers
    assert sum(final.acked_by_type.values()) > 0


def _kill_a_worker_mid_run(generator: GeneratorProcess, after_ticks: int) -> tuple[int, list[Line]]:
    """SIGKILL one of the master's worker processes once the window has run `after_ticks`
    seconds (counted from the generator's own ticks, not a sleep that a slow machine spends
    importing); the lines read meanwhile are returned for the caller to keep."""
    read: list[Line] = []
    deadline = time.monotonic() + 60
    while sum(isinstance(line, Tick) for line in read) < after_ticks:
        line = generator.lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert line is not None and not isinstance(line, Final), read
        read.append(line)
    victim = psutil.Process(generator.process.pid).children()[0]
    victim.send_signal(signal.SIGKILL)
    return victim.pid, read


@pytest.mark.slow
@pytest.mark.parametrize("on_loss", ["fail", "continue"])
def test_a_worker_killed_mid_run_is_reported_by_name(
    engine_factory: EngineFactory, generator_factory: GeneratorFactory, tmp_path: Path, on_loss: str
) -> None:
    engine = engine_factory("tuned", world=WORLD)
    spec = spec_for(
        engine.url, tmp_path, rate=100, duration_s=6, processes=2, on_worker_loss=on_loss
    )
    generator = generator_factory(spec)
    victim, before = _kill_a_worker_mid_run(generator, after_ticks=2)
    code, after = generator_output(generator)
    lines = before + after
    final = lines[-1]
    assert isinstance(final, Final)
    errors = [line for line in lines if isinstance(line, Error)]
    assert len(final.lost_workers) == 1 and f"pid {victim}" in final.lost_workers[0]
    assert "SIGKILL" in final.lost_workers[0]
    assert final.requests.total == sum(worker.requests.total for worker in final.workers)
    if on_loss == "fail":
        assert code == 1
        assert len(errors) == 1 and f"pid {victim}" in errors[0].message
        assert final.interrupted and final.duration_s < 6
    else:
        assert code == 0 and not errors
        assert not final.interrupted and final.duration_s >= 5.9
        survivor = next(worker for worker in final.workers if worker.lost is None)
        assert survivor.requests.total > 0.4 * final.scheduled


@pytest.mark.slow
def test_vbench_worker_exits_3_when_its_share_cannot_run(
    generator_factory: GeneratorFactory, tmp_path: Path
) -> None:
    """A worker whose share failed (here: the target does not answer) is a failed run, exit 3;
    exit 1 means a check failed (DESIGN: exit codes of every command)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nobody = "http://127.0.0.1:9"  # the discard port: nothing listens there
    spec = spec_for(nobody, tmp_path, rate=10, duration_s=3, expect_workers=1)
    generator = generator_factory(replace(spec, master_port=port))
    worker = subprocess.run(
        [sys.executable, "-m", "veltrix_bench", "worker", "--master", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    code, lines = generator_output(generator)
    assert any(isinstance(line, Error) and "127.0.0.1:9" in line.message for line in lines)
    assert worker.returncode == EXIT_RUN_FAILED, worker.stderr[-2000:]


@pytest.mark.slow
def test_a_worker_of_another_protocol_version_is_refused_by_name(
    engine_factory: EngineFactory, generator_factory: GeneratorFactory, tmp_path: Path
) -> None:
    """A worker of another vbench (here: the real worker with its protocol number changed)
    stops the run at once with both versions named, not after the worker timeout."""
    engine = engine_factory("tuned", world=WORLD)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = spec_for(engine.url, tmp_path, rate=10, duration_s=3, expect_workers=1)
    generator = generator_factory(replace(spec, master_port=port, worker_timeout_s=60.0))
    started = time.monotonic()
    other = (
        "import sys, veltrix_bench.load.messages as m; m.PROTOCOL = 99; "
        "from veltrix_bench.load import worker; "
        f"sys.exit(worker.main(['--master=127.0.0.1:{port}']))"
    )
    worker = subprocess.Popen([sys.executable, "-c", other], stderr=subprocess.DEVNULL)
    try:
        code, lines = generator_output(generator)
    finally:
        worker.kill()
        worker.wait()
    errors = [line.message for line in lines if isinstance(line, Error)]
    assert code != 0 and any("another vbench protocol (99, the master 1)" in e for e in errors)
    assert time.monotonic() - started < 30
