"""What the commands print on a terminal: a run's figures, a comparison, a gate, the scenarios.

Every string that came from a scenario, config or response is escaped: rich markup in a name
is printed as it is, never applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from veltrix_bench.load.scenario import Scenario
from veltrix_bench.models.comparison import Comparison
from veltrix_bench.models.gate import GateResult
from veltrix_bench.models.summary import Summary
from veltrix_bench.report.formatting import interval
from veltrix_bench.report.formatting import short_number as _num

if TYPE_CHECKING:
    from veltrix_bench.contract.conformance import ConformanceResult


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def print_summary(console: Console, summary: Summary) -> None:
    load, requests = summary.load, summary.requests
    title = (
        f"{escape(summary.scenario)} on {escape(summary.config)} · "
        f"{load.model} model · {load.duration_s:.0f} s · status {summary.status}"
    )
    latency = Table(title=title, title_justify="left")
    latency.add_column("latency (ms)")
    for column in ("p50", "p90", "p99", "p99.9", "max"):
        latency.add_column(column, justify="right")
    for name, block in (
        ("intended time", summary.latency_ms),
        ("service time", summary.service_time_ms),
    ):
        latency.add_row(
            name, *(_ms(v) for v in (block.p50, block.p90, block.p99, block.p999, block.max))
        )
    console.print(latency)

    engine, generator = summary.engine, summary.generator
    figures = Table(show_header=False, box=None, padding=(0, 2))
    figures.add_column(style="dim")
    figures.add_column(justify="right")
    figures.add_row(
        "requests",
        f"{requests.total:,} ({requests.ok:,} ok, {requests.errors:,} errors, "
        f"{requests.rejected:,} 429s)",
    )
    figures.add_row("throughput", f"{requests.throughput_rps:,.0f} req/s")
    if generator.achieved_rate_ratio is not None:
        figures.add_row("achieved / target rate", f"{generator.achieved_rate_ratio:.1%}")
    late = generator.late_starts
    figures.add_row("late starts (cap / generator)", f"{late.in_flight_cap:,} / {late.generator:,}")
    if engine.max_queue_depth is not None:
        figures.add_row("engine max queue depth", f"{engine.max_queue_depth:,.0f}")
    if engine.peak_rss_mb is not None:
        figures.add_row("engine peak RSS", f"{engine.peak_rss_mb:,.0f} MB")
    for name, holds in summary.invariants.items():
        figures.add_row(name, "[green]holds[/]" if holds else "[bold red]BROKEN[/]")
    console.print(figures)
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")


def print_run(
    console: Console,
    errors: Console,
    summary: Summary,
    exit_code: int,
    notices: Iterable[str],
    failure: str,
) -> None:
    """The end of a run: its figures (unless it failed before measuring anything), then on
    `errors` what the user must know about them and why the run failed, if it did."""
    if summary.requests.total or exit_code == 0:
        print_summary(console, summary)
        print_profiles(console, summary)
    for notice in notices:
        errors.print(f"[bold yellow]vbench:[/] {escape(notice)}", highlight=False)
    if failure:
        errors.print(f"[bold red]vbench:[/] {escape(failure)}", highlight=False)


def scenario_line(scenario: Scenario) -> str:
    """One line of `vbench scenarios`: name, load shape, duration, description."""
    load = scenario.load
    shape = (
        f"open {load.peak_rate:,.0f}/s" if load.model == "open" else f"closed {load.users} users"
    )
    return f"{scenario.name:<12} {shape:<18} {load.total_duration_s:>6.0f}s  {scenario.description}"


def print_comparison(console: Console, comparison: Comparison) -> None:
    for pair in comparison.comparisons:
        console.print(f"[bold]{escape(pair.headline)}[/]")
        table = Table(
            title=f"{escape(pair.candidate)} vs {escape(pair.baseline)}", title_justify="left"
        )
        for column in ("metric", "baseline", "candidate", "ratio", "95% CI", "p", "verdict"):
            table.add_column(column, justify="left" if column in ("metric", "verdict") else "right")
        for row in pair.metrics:
            table.add_row(
                row.metric,
                _num(row.baseline_median),
                _num(row.candidate_median),
                _num(row.ratio),
                interval(row.ci_low, row.ci_high),
                f"{row.p_value:.3f}" if row.p_value is not None else "–",
                _SHORT.get(row.verdict, row.verdict),
            )
        console.print(table)


_SHORT = {"no difference called": "no diff", "insufficient data": "n/a"}


def print_gate(console: Console, gate: GateResult) -> None:
    verdict = "[bold green]passed[/]" if gate.passed else f"[bold red]failed ({gate.failed})[/]"
    console.print(f"vbench gate {verdict} · {escape(gate.source)}")
    for check in gate.checks:
        mark = "[green]✓[/]" if check.passed else "[red]✗[/]"
        console.print(f" {mark} {escape(check.name)}: {escape(check.message)}", highlight=False)


def print_profiles(console: Console, summary: Summary) -> None:
    """Allocation and CPU tables of a profiled run (nothing for an unprofiled one)."""
    memory, cpu = summary.memory, summary.cpu
    if memory:
        table = Table(title="allocations (load window)", title_justify="left")
        table.add_column("figure")
        table.add_column("value", justify="right")
        table.add_row("allocations", f"{memory.allocations:,}")
        per_s = memory.allocations_per_s
        table.add_row("per second", "–" if per_s is None else f"{per_s:,.0f}")
        if memory.allocations_per_event is not None:
            table.add_row("per acknowledged event", f"{memory.allocations_per_event:,.1f}")
        for layer, value in memory.per_event_by_layer.items():
            table.add_row(f"  {layer} per event", "–" if value is None else f"{value:,.1f}")
        table.add_row("peak heap", f"{memory.peak_heap_mb:,.1f} MB")
        console.print(table)
    if cpu:
        share = cpu.handler_share
        console.print(f"CPU: {cpu.samples:,} samples, event handler {share:.1%}")
        for row in cpu.top_self[:5]:
            console.print(f"  {row.share:6.1%}  {escape(row.function)}", highlight=False)


_VERDICT_STYLE = {"pass": "green", "fail": "bold red", "warn": "yellow"}  # contract.Verdict


def print_conformance(console: Console, result: ConformanceResult) -> None:
    """One row per check: its verdict and why, the why wrapped to fit an 80-column terminal."""
    table = Table(title=f"conformance of {escape(result.target)}", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("why", overflow="fold", ratio=1)
    for check in result.checks:
        style = _VERDICT_STYLE[check.verdict]
        table.add_row(
            escape(check.name), f"[{style}]{check.verdict.value}[/]", escape(check.detail)
        )
    console.print(table)
    failed = sum(1 for check in result.checks if check.verdict == "fail")
    warned = sum(1 for check in result.checks if check.verdict == "warn")
    verdict = "[bold green]conforms[/]" if result.passed else f"[bold red]{failed} failed[/]"
    console.print(
        f"{verdict} · {warned} warnings · {result.requests:,} requests in {result.elapsed_s:.1f} s"
    )
