"""Build the summary (schema vbench.summary/1) from what a run recorded: its run record, its
two latency histograms and its time series. A pure function: reading and writing the run
directory's files is the caller's."""

from __future__ import annotations

import msgspec
import pandas as pd
from hdrh.histogram import HdrHistogram

from veltrix_bench.analysis.invariants import check_all
from veltrix_bench.models.engine_stats import events_between, shape_problem
from veltrix_bench.models.generator import GeneratorReport
from veltrix_bench.models.latency import latency_of
from veltrix_bench.models.run_record import PlannedLoad, RunRecord
from veltrix_bench.models.summary import (
    SCHEMA,
    EngineBlock,
    GeneratorBlock,
    LoadBlock,
    RequestFigures,
    Summary,
)

SATURATION_ACHIEVED_RATIO = 0.95
SATURATION_LATE_SHARE = 0.01


def _max_or_none(frame: pd.DataFrame, column: str) -> float | None:
    if frame.empty or column not in frame or frame[column].isna().all():
        return None
    return float(frame[column].max())


def build_summary(
    record: RunRecord, latency: HdrHistogram, service: HdrHistogram, series: pd.DataFrame
) -> Summary:
    """The summary of a run, complete or not: what was not measured is None or empty, and
    the run's status and warnings say why."""
    final = record.final
    events = events_between(record.stats_before, record.stats_after)
    not_applicable = (
        record.invariants_not_applicable
        or shape_problem(record.stats_before)
        or shape_problem(record.stats_after)
    )
    invariants = [] if not_applicable else check_all(record.stats_before, record.stats_after, final)
    generator = _generator_block(final, record.load)
    cpu_s, cpu_per_event = _engine_cpu(record)

    warnings = list(record.warnings)
    if generator.saturated:
        warnings.append(
            "the load generator could not keep up: latency and throughput figures are suspect"
        )
    if record.profiled:
        warnings.append("profiled run: latency is not comparable with unprofiled runs")
    if record.cpu is not None and record.cpu.under_memray:
        warnings.append("CPU sampled while memray traced allocations: CPU shares are distorted")
    for kind, reason in record.profiles_skipped.items():
        warnings.append(f"{kind} profile skipped: {reason}")
    for invariant in invariants:
        if not invariant.holds:
            warnings.append(f"invariant {invariant.name} broken: {invariant.detail}")

    return Summary(
        schema=SCHEMA,
        run_id=record.run_id,
        started_at=record.started_at,
        status=record.status,
        status_detail=record.status_detail,
        scenario=record.scenario,
        config=record.config,
        target=record.target,
        profiled=record.profiled,
        load=_load_block(record.load, final),
        requests=_request_figures(final),
        latency_ms=latency_of(latency),
        service_time_ms=latency_of(service),
        generator=generator,
        engine=EngineBlock(
            max_queue_depth=_max_or_none(series, "queue_depth"),
            peak_rss_mb=_max_or_none(series, "engine_rss_mb"),
            events_acked=events.acknowledged if events is not None else None,
            events_persisted=events.persisted if events is not None else None,
            cpu_s=cpu_s,
            cpu_us_per_event=cpu_per_event,
        ),
        memory=record.memory,
        cpu=record.cpu,
        profiles_skipped=dict(record.profiles_skipped),
        invariants={i.name: i.holds for i in invariants},
        invariant_details={i.name: i.detail for i in invariants},
        invariants_not_applicable=not_applicable,
        warnings=warnings,
        thresholds=list(record.thresholds),
        interleaved=record.interleaved,
    )


def _load_block(planned: PlannedLoad, final: GeneratorReport | None) -> LoadBlock:
    """The plan, with the window the generator actually ran when it ran at all."""
    duration = final.duration_s if final is not None else 0.0
    return LoadBlock(
        model=planned.model,
        target_rate=planned.target_rate,
        stages=planned.stages,
        users=planned.users,
        processes=planned.processes,
        workers=final.workers if final is not None else None,
        duration_s=round(duration, 3) if duration else planned.duration_s,
        warmup_s=planned.warmup_s,
    )


def _engine_cpu(record: RunRecord) -> tuple[float | None, float | None]:
    """The engine's CPU seconds over the window, and µs of it per event it acknowledged then."""
    window = record.engine_window
    if window is msgspec.UNSET or window.cpu_s is None:
        return None, None
    events = window.events_acked
    per_event = round(window.cpu_s * 1e6 / events, 1) if events else None
    return round(window.cpu_s, 3), per_event


def _request_figures(final: GeneratorReport | None) -> RequestFigures:
    if final is None:
        return RequestFigures(
            total=0, ok=0, errors=0, rejected=0, error_rate=0.0, throughput_rps=0.0
        )
    counts, duration = final.requests, final.duration_s
    return RequestFigures(
        total=counts.total,
        ok=counts.ok,
        errors=counts.errors,
        rejected=counts.rejected,
        error_rate=round(counts.errors / counts.total, 6) if counts.total else 0.0,
        throughput_rps=round(counts.total / duration, 2) if duration else 0.0,
    )


def _generator_block(final: GeneratorReport | None, planned: PlannedLoad) -> GeneratorBlock:
    if final is None:
        return GeneratorBlock()
    late = final.late_starts
    if planned.model != "open" or not final.scheduled:
        return GeneratorBlock(late_starts=late, cpu_share=final.generator_cpu_share)
    scheduled = final.scheduled
    ratio = final.started / scheduled
    generator_late = late.generator / scheduled
    cap_late = late.in_flight_cap / scheduled
    # A shortfall caused by the in-flight cap is the target backing up (a finding about the
    # target); one with free connections is the generator failing to keep up. A worker lost
    # mid-run (--on-worker-loss continue) takes its share of the rate with it: that shortfall
    # is the loss, said on its own, not the survivors failing to keep up.
    shortfall = ratio < SATURATION_ACHIEVED_RATIO and not final.lost_workers
    return GeneratorBlock(
        achieved_rate_ratio=round(ratio, 4),
        late_starts=late,
        saturated=generator_late > SATURATION_LATE_SHARE
        or (shortfall and cap_late <= SATURATION_LATE_SHARE),
        target_backing_up=cap_late > SATURATION_LATE_SHARE,
        cpu_share=final.generator_cpu_share,
    )
