"""What `vbench capacity` prints: each round's rates, each trial and step verdict as it lands,
then the answer. Lines stay within 80 columns; names are escaped (markup in one is text)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from veltrix_bench.analysis.capacity_result import per_second
from veltrix_bench.models.capacity import CapacityResult, CapacityStep, CapacityTrial

NAME_WIDTH = 14
_VERDICT = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "generator": "[yellow]GEN[/]"}
_STEP_VERDICT = {
    "pass": "[bold green]PASS[/]", "fail": "[bold red]FAIL[/]", "generator": "[yellow]GENERATOR[/]",
}  # fmt: skip


def _name(name: str) -> str:
    short = name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + "…"
    return escape(short.ljust(NAME_WIDTH))


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} ms"


def print_round(console: Console, number: int, rates: list[tuple[str, float]]) -> None:
    shown = " · ".join(f"{escape(name)} {per_second(rate)}" for name, rate in rates)
    console.print(f"[bold]step {number}[/] · {shown}", highlight=False)


def print_trial(
    console: Console, name: str, rate: float, number: int, trial: CapacityTrial
) -> None:
    """'  tuned          4,000/s #2 pass p99 12.3 ms · ok 99.8% · 230 µs/ev'"""
    achieved = "–" if trial.achieved_ratio is None else f"{trial.achieved_ratio:.1%}"
    cpu = trial.engine_cpu_us_per_event
    figures = f"p99 {_ms(trial.p99_ms)} · ok {achieved}"
    if cpu is not None:
        figures += f" · {cpu:,.0f} µs/ev"
    console.print(
        f"  {_name(name)} {per_second(rate):>9} #{number} {_VERDICT[trial.verdict]} {figures}",
        highlight=False,
    )
    if trial.verdict != "pass" and trial.reasons:
        console.print(f"      [dim]{escape(trial.reasons[0])}[/]", highlight=False)


def print_step(console: Console, name: str, step: CapacityStep) -> None:
    """'→ tuned          4,000/s PASS (2 of 2 trials)'"""
    agreeing = sum(1 for trial in step.trials if trial.verdict == step.verdict)
    console.print(
        f"  → {_name(name)} {per_second(step.rate):>9} {_STEP_VERDICT[step.verdict]} "
        f"({agreeing} of {len(step.trials)} trials)",
        highlight=False,
    )


def print_capacity(console: Console, result: CapacityResult) -> None:
    """The headline, then each config's answer and what stopped its search."""
    console.print(f"[bold]{escape(result.headline)}[/]")
    table = Table(show_header=True, box=None, padding=(0, 1))
    table.add_column("config")
    table.add_column("capacity", justify="right")
    table.add_column("steps", justify="right")
    table.add_column("stopped by")
    for config in result.configs:
        capacity = per_second(config.capacity)
        if config.lower_bound and config.capacity is not None:
            capacity = f"≥ {capacity}"
        table.add_row(
            escape(config.name), capacity, str(len(config.steps)), escape(config.limit_cause)
        )
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    console.print(f"[dim]search took {result.wall_s / 60:,.1f} min[/]", highlight=False)
