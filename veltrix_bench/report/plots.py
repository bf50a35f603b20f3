"""Plots as inline SVG strings (matplotlib, rendered offline, no JavaScript)."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
# Names from scenarios and configs label the plots: `$` in one must not start mathtext.
matplotlib.rcParams["text.parse_math"] = False
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

WIDTH, HEIGHT = 7.5, 3.2
SPECTRUM_TICKS = ((50.0, "50%"), (90.0, "90%"), (99.0, "99%"), (99.9, "99.9%"), (99.99, "99.99%"))


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prologue: the SVG sits inside HTML


def _x(percentile: float) -> float:
    return 1 / (1 - min(percentile, 99.9999) / 100)


def percentile_spectrum(spectra: dict[str, list[tuple[float, float]]]) -> str | None:
    """Latency by percentile, HDR style: x is 1/(1-p) on a log scale."""
    if not any(spectra.values()):
        return None
    figure, axes = plt.subplots(figsize=(WIDTH, HEIGHT))
    for label, points in spectra.items():
        if points:
            axes.plot([_x(p) for p, _ in points], [v for _, v in points], label=label, lw=1.8)
    axes.set_xscale("log")
    axes.set_xticks([_x(p) for p, _ in SPECTRUM_TICKS], [t for _, t in SPECTRUM_TICKS])
    axes.minorticks_off()
    axes.set_xlim(1, _x(99.999))
    axes.set_xlabel("percentile")
    axes.set_ylabel("latency (ms)")
    axes.grid(alpha=0.3)
    axes.legend()
    axes.set_title("Latency by percentile")
    return _svg(figure)


def over_time(series: pd.DataFrame, columns: dict[str, str], title: str, unit: str) -> str | None:
    """Lines of `columns` (column -> label) against the run's elapsed seconds."""
    present = {c: label for c, label in columns.items() if c in series and series[c].notna().any()}
    if series.empty or not present:
        return None
    figure, axes = plt.subplots(figsize=(WIDTH, HEIGHT))
    for column, label in present.items():
        axes.plot(series["t"], series[column], label=label, lw=1.5)
    axes.set_xlabel("seconds into the run")
    axes.set_ylabel(unit)
    axes.grid(alpha=0.3)
    axes.legend()
    axes.set_title(title)
    top = max(float(series[c].max()) for c in present)
    if not math.isfinite(top) or top <= 0:
        axes.set_ylim(0, 1)
    return _svg(figure)


def engine_over_time(series: pd.DataFrame) -> str | None:
    """Queue depth and resident memory, on two y axes."""
    has_depth = "queue_depth" in series and series["queue_depth"].notna().any()
    has_rss = "engine_rss_mb" in series and series["engine_rss_mb"].notna().any()
    if series.empty or not (has_depth or has_rss):
        return None
    figure, depth_axes = plt.subplots(figsize=(WIDTH, HEIGHT))
    if has_depth:
        depth_axes.plot(series["t"], series["queue_depth"], color="tab:red", label="queue depth")
    depth_axes.set_ylabel("queue depth (events)", color="tab:red")
    depth_axes.set_xlabel("seconds into the run")
    if has_rss:
        rss_axes = depth_axes.twinx()
        rss_axes.plot(series["t"], series["engine_rss_mb"], color="tab:blue", label="RSS")
        rss_axes.set_ylabel("engine RSS (MB)", color="tab:blue")
        rss_axes.set_ylim(bottom=0)
    depth_axes.set_ylim(bottom=0)
    depth_axes.grid(alpha=0.3)
    depth_axes.set_title("Engine queue depth and resident memory")
    return _svg(figure)


def trial_points(sides: dict[str, dict[str, list[float]]], metrics: list[str]) -> str | None:
    """Each trial's value of each metric, one small panel per metric, one column per side."""
    shown = [m for m in metrics if any(sides[s].get(m) for s in sides)]
    if not shown:
        return None
    columns = 3
    rows = math.ceil(len(shown) / columns)
    figure, grid = plt.subplots(rows, columns, figsize=(WIDTH * 1.3, 2.2 * rows), squeeze=False)
    names = list(sides)
    for index, metric in enumerate(shown):
        axes = grid[index // columns][index % columns]
        for position, name in enumerate(names):
            points = sides[name].get(metric, [])
            axes.scatter([position] * len(points), points, s=18, alpha=0.75)
        axes.set_xticks(range(len(names)), names)
        axes.set_xlim(-0.6, len(names) - 0.4)
        axes.set_title(metric, fontsize=9)
        axes.grid(alpha=0.3)
    for index in range(len(shown), rows * columns):
        grid[index // columns][index % columns].axis("off")
    return _svg(figure)
