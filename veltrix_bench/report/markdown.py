"""report.md: headline figures, a table and warnings, sized for a pull-request comment."""

from __future__ import annotations

from veltrix_bench.models.summary import Summary
from veltrix_bench.report.formatting import code
from veltrix_bench.report.formatting import inert as _text


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f} ms"


def render(summary: Summary) -> str:
    load, requests = summary.load, summary.requests
    latency, service = summary.latency_ms, summary.service_time_ms
    engine, generator = summary.engine, summary.generator
    rate = f"{load.target_rate:,.0f}/s offered" if load.target_rate else f"{load.users} users"
    lines = [
        f"## vbench run {code(summary.run_id)}",
        "",
        f"**{_text(summary.scenario)}** on **{_text(summary.config)}** — {load.model} "
        f"model, {rate}, {load.duration_s:.0f} s — status **{summary.status}**",
        "",
        f"p99 **{_ms(latency.p99)}** · p50 {_ms(latency.p50)} · "
        f"{requests.throughput_rps:,.0f} req/s · error rate {requests.error_rate:.2%} · "
        f"{requests.rejected:,} rejected (429)",
        "",
    ]
    warnings = list(summary.warnings)
    if summary.status_detail:
        warnings.insert(0, summary.status_detail)
    if warnings:
        lines += [f"> ⚠️ {_text(w)}" for w in warnings] + [""]
    lines += [
        "| latency | p50 | p90 | p99 | p99.9 | max |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {_ms(b.p50)} | {_ms(b.p90)} | {_ms(b.p99)} | "
            f"{_ms(b.p999)} | {_ms(b.max)} |"
            for name, b in (("intended time", latency), ("service time", service))
        ),
        "",
        "| figure | value |",
        "|---|---:|",
        f"| requests | {requests.total:,} ({requests.ok:,} ok, {requests.errors:,} errors) |",
        f"| achieved / target rate | {_ratio(generator.achieved_rate_ratio)} |",
        f"| late starts (cap / generator) | {generator.late_starts.in_flight_cap:,} / "
        f"{generator.late_starts.generator:,} |",
        f"| engine max queue depth | {_num(engine.max_queue_depth)} |",
        f"| engine peak RSS | {_num(engine.peak_rss_mb)} MB |",
        f"| events acknowledged / persisted | {_num(engine.events_acked)} / "
        f"{_num(engine.events_persisted)} |",
    ]
    if summary.invariants_not_applicable:
        reason = _text(summary.invariants_not_applicable)
        lines.append(f"| invariants | not applicable: {reason} |")
    for name, holds in summary.invariants.items():
        lines.append(f"| invariant {name} | {'✅ holds' if holds else '❌ broken'} |")
    return "\n".join(lines) + "\n"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"
