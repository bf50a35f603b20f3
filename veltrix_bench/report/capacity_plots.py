"""The capacity report's plots as inline SVG: each figure per offered rate, one line per config.

Every step is a point (filled: passed; ×: failed; triangle: the generator limited it), its
bar the spread over the step's trials (lowest to highest); lines join a config's steps in
rate order. Numbers only: names reach the plots as legend text, never as markup.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from veltrix_bench.models.capacity import CapacityStep, CapacityTrial, ConfigCapacity
from veltrix_bench.report.plots import HEIGHT, WIDTH, _svg, plt

MARKERS = {"pass": "o", "fail": "x", "generator": "^"}
TrialFigure = Callable[[CapacityTrial], float | None]
"""What a plot shows of one trial (None: not measured)."""


@dataclass(frozen=True)
class _Point:
    rate: float
    middle: float  # the median over the step's trials
    low: float
    high: float
    verdict: str


def _points(steps: list[CapacityStep], of: TrialFigure, per_rate: bool) -> list[_Point]:
    """A point per step that measured the figure; `per_rate`: the figure times the rate."""
    points = []
    for step in sorted(steps, key=lambda s: s.rate):
        values = [v * step.rate if per_rate else v for t in step.trials if (v := of(t)) is not None]
        if values:
            middle = statistics.median(values)
            points.append(_Point(step.rate, middle, min(values), max(values), step.verdict))
    return points


def _draw(
    axes: Axes, steps: list[CapacityStep], of: TrialFigure, label: str, color: str,
    style: str = "-", per_rate: bool = False,
) -> bool:  # fmt: skip
    points = _points(steps, of, per_rate)
    if not points:
        return False
    rates, middles = [p.rate for p in points], [p.middle for p in points]
    axes.plot(rates, middles, style, color=color, lw=1.4, label=label)
    spread = [[p.middle - p.low for p in points], [p.high - p.middle for p in points]]
    axes.errorbar(rates, middles, yerr=spread, fmt="none", ecolor=color, alpha=0.5, capsize=3)
    for verdict, marker in MARKERS.items():
        chosen = [p for p in points if p.verdict == verdict]
        if chosen:
            axes.scatter([p.rate for p in chosen], [p.middle for p in chosen], marker=marker,
                         color=color, s=36, zorder=3)  # fmt: skip
    return True


def _colors(configs: list[ConfigCapacity]) -> list[tuple[ConfigCapacity, str]]:
    return [(config, f"C{index % 10}") for index, config in enumerate(configs)]


def _mark_knees(axes: Axes, configs: list[ConfigCapacity]) -> None:
    """A dotted line at each config's capacity (the knee of its curve)."""
    for config, color in _colors(configs):
        if config.capacity is not None:
            at_least = "≥ " if config.lower_bound else ""
            label = f"{config.name}: {at_least}{config.capacity:,.0f}/s"
            axes.axvline(config.capacity, color=color, ls=":", lw=1.2, label=label)


def _plain(value: float, _position: object = None) -> str:
    """A tick label as a plain number: the mathtext of log axes is off (report.plots)."""
    return f"{value:,.0f}" if value >= 10 else f"{value:g}"


def _log_scale(axis: object) -> None:
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # type: ignore[attr-defined]
    axis.set_major_formatter(FuncFormatter(_plain))  # type: ignore[attr-defined]
    axis.set_minor_formatter(NullFormatter())  # type: ignore[attr-defined]


def _finish(axes: Axes, figure: Figure, title: str, ylabel: str, log_y: bool) -> str:
    axes.set_xscale("log")
    _log_scale(axes.xaxis)
    if log_y:
        axes.set_yscale("log")
        _log_scale(axes.yaxis)
    axes.set_xlabel("offered rate (requests/s)")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=8)
    axes.set_title(title)
    return _svg(figure)


def latency_curve(configs: list[ConfigCapacity], slo_lines_ms: dict[str, float]) -> str | None:
    """p99 (solid) and p50 (dashed) per step against the offered rate; the SLOs and knees."""
    figure, axes = plt.subplots(figsize=(WIDTH * 1.6, HEIGHT * 1.4))  # the page's full width
    drawn = False
    for config, color in _colors(configs):
        drawn |= _draw(axes, config.steps, lambda t: t.p99_ms, f"{config.name} p99", color)
        drawn |= _draw(axes, config.steps, lambda t: t.p50_ms, f"{config.name} p50", color, "--")
    if not drawn:
        plt.close(figure)
        return None
    for text, bound in slo_lines_ms.items():
        axes.axhline(bound, color="tab:red", lw=1.2, label=f"SLO {text}")
    _mark_knees(axes, configs)
    return _finish(axes, figure, "Intended-time latency by offered rate", "latency (ms)", True)


def achieved_curve(configs: list[ConfigCapacity]) -> str | None:
    """Requests answered ok per second against the rate offered; the diagonal is all of it."""
    figure, axes = plt.subplots(figsize=(WIDTH, HEIGHT))
    drawn = False
    for config, color in _colors(configs):
        drawn |= _draw(axes, config.steps, lambda t: t.achieved_ratio, config.name, color,
                       per_rate=True)  # fmt: skip
    if not drawn:
        plt.close(figure)
        return None
    rates = [step.rate for config in configs for step in config.steps]
    axes.plot([min(rates), max(rates)], [min(rates), max(rates)], color="grey", lw=0.8, ls=":",
              label="all offered")  # fmt: skip
    return _finish(axes, figure, "Answered ok vs offered", "answered ok (requests/s)", True)


def engine_curve(
    configs: list[ConfigCapacity], of: TrialFigure, title: str, unit: str
) -> str | None:
    """One engine figure (CPU per event, queue depth) per step against the offered rate."""
    figure, axes = plt.subplots(figsize=(WIDTH, HEIGHT))
    drawn = False
    for config, color in _colors(configs):
        drawn |= _draw(axes, config.steps, of, config.name, color)
    if not drawn:
        plt.close(figure)
        return None
    axes.set_ylim(bottom=0)
    _mark_knees(axes, configs)
    return _finish(axes, figure, title, unit, False)
