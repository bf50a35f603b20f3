"""Build summary.json (schema vbench.summary/1) from a run directory's files alone."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pandas as pd
from hdrh.histogram import HdrHistogram

from veltrix_bench.analysis.histograms import LatencyFigures, figures, merged_log
from veltrix_bench.analysis.invariants import check_all
from veltrix_bench.rundir import RunDir

SCHEMA = "vbench.summary/1"
SATURATION_ACHIEVED_RATIO = 0.95
SATURATION_LATE_SHARE = 0.01


def read_run_record(run_dir: RunDir) -> dict[str, Any]:
    return dict(json.loads(run_dir.file("run.json").read_text()))


def read_timeseries(run_dir: RunDir) -> pd.DataFrame:
    if not run_dir.timeseries.exists() or run_dir.timeseries.stat().st_size == 0:
        return pd.DataFrame()
    return pd.read_csv(run_dir.timeseries)


def _latency_block(figures_: LatencyFigures) -> dict[str, float | None]:
    block = asdict(figures_)
    block.pop("count")
    return block


def _max_or_none(frame: pd.DataFrame, column: str) -> float | None:
    if frame.empty or column not in frame or frame[column].isna().all():
        return None
    return float(frame[column].max())


def build_summary(
    run_dir: RunDir,
    latency_total: HdrHistogram | None = None,
    service_total: HdrHistogram | None = None,
) -> dict[str, Any]:
    """The summary; pass the merged histograms if the caller already read the logs."""
    record = read_run_record(run_dir)
    final = record.get("final")
    series = read_timeseries(run_dir)
    latency = figures(latency_total or merged_log(run_dir.latency_log))
    service = figures(service_total or merged_log(run_dir.service_log))
    load = record["load"]

    requests: dict[str, Any] = {"total": 0, "ok": 0, "errors": 0, "rejected": 0}
    duration = 0.0
    generator: dict[str, Any] = {
        "achieved_rate_ratio": None,
        "late_starts": {"in_flight_cap": 0, "generator": 0},
        "saturated": False,
        "target_backing_up": False,
        "cpu_share": None,
    }
    if final is not None:
        requests = dict(final["requests"])
        duration = float(final["duration_s"])
        generator.update(_generator_block(final, load))
    total = requests["total"]
    requests["error_rate"] = round(requests["errors"] / total, 6) if total else 0.0
    requests["throughput_rps"] = round(total / duration, 2) if duration else 0.0

    before, after = record.get("stats_before"), record.get("stats_after")
    acked = persisted = None
    if before is not None and after is not None:
        acked = sum(after["acknowledged"].values()) - sum(before["acknowledged"].values())
        persisted = sum(after["persisted"].values()) - sum(before["persisted"].values())
    not_applicable = record.get("invariants_not_applicable")
    invariants = [] if not_applicable else check_all(before, after, final)

    warnings = list(record.get("warnings", []))
    if generator["saturated"]:
        warnings.append(
            "the load generator could not keep up: latency and throughput figures are suspect"
        )
    if record.get("profiled"):
        warnings.append("profiled run: latency is not comparable with unprofiled runs")
    if (record.get("cpu") or {}).get("under_memray"):
        warnings.append("CPU sampled while memray traced allocations: CPU shares are distorted")
    for kind, reason in record.get("profiles_skipped", {}).items():
        warnings.append(f"{kind} profile skipped: {reason}")
    for invariant in invariants:
        if not invariant.holds:
            warnings.append(f"invariant {invariant.name} broken: {invariant.detail}")

    return {
        "schema": SCHEMA,
        "run_id": record["run_id"],
        "started_at": record["started_at"],
        "status": record["status"],
        "status_detail": record.get("status_detail", ""),
        "scenario": record["scenario"],
        "config": record["config"],
        "target": record["target"],
        "profiled": bool(record.get("profiled", False)),
        "load": {
            "model": load["model"],
            "target_rate": load.get("target_rate"),
            "stages": load.get("stages"),
            "users": load["users"],
            "processes": load.get("processes", 1),
            "workers": (final or {}).get("workers"),
            "duration_s": round(duration, 3) if duration else load["duration_s"],
        },
        "requests": requests,
        "latency_ms": _latency_block(latency),
        "service_time_ms": _latency_block(service),
        "generator": generator,
        "engine": {
            "max_queue_depth": _max_or_none(series, "queue_depth"),
            "peak_rss_mb": _max_or_none(series, "engine_rss_mb"),
            "events_acked": acked,
            "events_persisted": persisted,
        },
        "memory": record.get("memory"),
        "cpu": record.get("cpu"),
        "profiles_skipped": record.get("profiles_skipped", {}),
        "invariants": {i.name: i.holds for i in invariants},
        "invariant_details": {i.name: i.detail for i in invariants},
        "invariants_not_applicable": not_applicable,
        "warnings": warnings,
        "thresholds": record.get("thresholds", []),
    }


def _generator_block(final: dict[str, Any], load: dict[str, Any]) -> dict[str, Any]:
    late = final["late_starts"]
    block: dict[str, Any] = {
        "late_starts": dict(late),
        "cpu_share": final.get("generator_cpu_share"),
    }
    if load["model"] != "open" or not final["scheduled"]:
        return block
    scheduled = final["scheduled"]
    ratio = final["started"] / scheduled
    generator_late = late["generator"] / scheduled
    cap_late = late["in_flight_cap"] / scheduled
    # A shortfall caused by the in-flight cap is the target backing up (a finding about the
    # target); one with free connections is the generator failing to keep up.
    block["achieved_rate_ratio"] = round(ratio, 4)
    block["target_backing_up"] = cap_late > SATURATION_LATE_SHARE
    block["saturated"] = generator_late > SATURATION_LATE_SHARE or (
        ratio < SATURATION_ACHIEVED_RATIO and cap_late <= SATURATION_LATE_SHARE
    )
    return block


def write_summary(
    run_dir: RunDir,
    latency_total: HdrHistogram | None = None,
    service_total: HdrHistogram | None = None,
) -> dict[str, Any]:
    summary = build_summary(run_dir, latency_total, service_total)
    run_dir.summary.write_text(json.dumps(summary, indent=2) + "\n")
    return summary
