"""The summary as a pure function of a run record, two histograms and a time series."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pandas as pd
import pytest

from veltrix_bench.analysis.summary import build_summary
from veltrix_bench.hdr import new_histogram
from veltrix_bench.models.generator import LateStarts, RequestCounts
from veltrix_bench.models.run_record import RunRecord
from veltrix_bench.rundir import read_record

GOLDEN_RUN = Path(__file__).parent / "golden" / "runs" / "default-1"


@pytest.fixture
def record() -> RunRecord:
    """A real run's record: 180 requests in 3.002 s, 171 events acknowledged and persisted."""
    return read_record(GOLDEN_RUN)


def histogram(*microseconds: int):  # type: ignore[no-untyped-def]
    recorded = new_histogram()
    for value in microseconds:
        recorded.record_value(value)
    return recorded


SERIES = pd.DataFrame({"t": [1.0, 2.0, 3.0], "queue_depth": [0.0, 4.0, 2.0],
                       "engine_rss_mb": [50.0, 61.5, 60.0]})  # fmt: skip


def test_figures_of_a_complete_run(record: RunRecord) -> None:
    summary = build_summary(record, histogram(1000, 2000, 3000), histogram(500, 900), SERIES)
    assert summary.schema == "vbench.summary/1" and summary.status == "complete"
    assert (summary.requests.total, summary.requests.ok, summary.requests.errors) == (180, 180, 0)
    assert summary.requests.throughput_rps == round(180 / 3.002, 2)
    assert summary.load.duration_s == 3.002 and summary.load.target_rate == 60.0
    # HDR's three significant digits: 3,000 µs is held as 3,001
    assert summary.latency_ms.p50 == 2.0 and summary.latency_ms.max == pytest.approx(3.0, 1e-3)
    assert summary.service_time_ms.max == pytest.approx(0.9, 1e-3)
    assert summary.engine.max_queue_depth == 4.0 and summary.engine.peak_rss_mb == 61.5
    assert (summary.engine.events_acked, summary.engine.events_persisted) == (171, 171)
    assert summary.invariants == {"acked_equals_persisted": True, "claims_exactly_once": True}
    assert summary.generator.achieved_rate_ratio == 1.0 and not summary.generator.saturated
    assert summary.warnings == []


def test_error_rate_is_errors_over_all_requests(record: RunRecord) -> None:
    assert record.final is not None
    final = msgspec.structs.replace(record.final, requests=RequestCounts(200, 150, 50, 0))
    summary = build_summary(
        msgspec.structs.replace(record, final=final), histogram(), histogram(), SERIES
    )
    assert summary.requests.error_rate == 0.25


def test_a_run_that_ended_before_the_load_has_a_summary_of_nothing(record: RunRecord) -> None:
    early = msgspec.structs.replace(
        record, status="failed", status_detail="engine did not start", final=None,
        stats_after=None,
    )  # fmt: skip
    summary = build_summary(early, histogram(), histogram(), pd.DataFrame())
    assert summary.status == "failed" and summary.status_detail == "engine did not start"
    assert summary.requests.total == 0 and summary.requests.throughput_rps == 0.0
    assert summary.latency_ms.p99 is None and summary.engine.peak_rss_mb is None
    assert summary.load.duration_s == record.load.duration_s  # the plan's
    assert summary.invariants == {} and summary.invariants_not_applicable is None


@pytest.mark.parametrize(
    ("late", "saturated", "backing_up"),
    [
        (LateStarts(in_flight_cap=0, generator=0), False, False),
        (LateStarts(in_flight_cap=0, generator=5), True, False),  # 5 of 180 late: > 1%
        (LateStarts(in_flight_cap=9, generator=0), False, True),  # the target backs up
    ],
)
def test_late_starts_say_whether_the_generator_or_the_target_fell_behind(
    record: RunRecord, late: LateStarts, saturated: bool, backing_up: bool
) -> None:
    assert record.final is not None
    final = msgspec.structs.replace(record.final, late_starts=late)
    summary = build_summary(
        msgspec.structs.replace(record, final=final), histogram(), histogram(), SERIES
    )
    assert summary.generator.saturated is saturated
    assert summary.generator.target_backing_up is backing_up
    assert any("could not keep up" in w for w in summary.warnings) is saturated


def test_a_shortfall_with_free_connections_is_the_generator_saturating(record: RunRecord) -> None:
    assert record.final is not None
    final = msgspec.structs.replace(record.final, started=150)  # 150 of 180 scheduled
    summary = build_summary(
        msgspec.structs.replace(record, final=final), histogram(), histogram(), SERIES
    )
    assert summary.generator.achieved_rate_ratio == round(150 / 180, 4)
    assert summary.generator.saturated


def test_a_shortfall_from_a_lost_worker_is_the_loss_not_the_generator(record: RunRecord) -> None:
    assert record.final is not None
    lost = ["worker 1 (host pid 7) lost 2.0 s into the window: its process exited"]
    final = msgspec.structs.replace(record.final, started=120, lost_workers=lost)
    summary = build_summary(
        msgspec.structs.replace(record, final=final), histogram(), histogram(), SERIES
    )
    assert summary.generator.achieved_rate_ratio == round(120 / 180, 4)
    assert not summary.generator.saturated


def test_stats_of_another_shape_make_the_invariants_not_applicable(record: RunRecord) -> None:
    foreign = msgspec.structs.replace(
        record, stats_before={"events": 10}, stats_after={"events": 190}
    )
    summary = build_summary(foreign, histogram(1000), histogram(900), SERIES)
    assert summary.invariants == {}
    assert summary.invariants_not_applicable is not None
    assert "/v1/stats has another shape" in summary.invariants_not_applicable
    assert summary.engine.events_acked is None and summary.latency_ms.p50 == 1.0


def test_a_lost_event_breaks_the_invariant_and_says_so(record: RunRecord) -> None:
    assert record.stats_after is not None
    after = dict(record.stats_after)
    after["persisted"] = {**after["persisted"], "join": after["persisted"]["join"] - 1}
    summary = build_summary(
        msgspec.structs.replace(record, stats_after=after), histogram(), histogram(), SERIES
    )
    assert summary.invariants["acked_equals_persisted"] is False
    assert summary.broken_invariants == ["acked_equals_persisted"]
    assert any(w.startswith("invariant acked_equals_persisted broken") for w in summary.warnings)


def test_profiled_runs_warn_that_latency_is_not_comparable(record: RunRecord) -> None:
    profiled = msgspec.structs.replace(
        record, profiled=True, profiles_skipped={"cpu": "ptrace is not permitted"}
    )
    warnings = build_summary(profiled, histogram(), histogram(), SERIES).warnings
    assert warnings == [
        "profiled run: latency is not comparable with unprofiled runs",
        "cpu profile skipped: ptrace is not permitted",
    ]
