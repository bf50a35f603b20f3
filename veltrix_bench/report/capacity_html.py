"""capacity.html: the answer, the latency-by-rate curve with its knees and SLO lines, the
achieved rate and the engine's CPU per event and queue depth per step, every step and trial."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
from markupsafe import Markup

from veltrix_bench.analysis.capacity_result import per_second
from veltrix_bench.analysis.checks import parse_check
from veltrix_bench.models.capacity import CapacityResult
from veltrix_bench.report import capacity_plots
from veltrix_bench.report.capacity_md import method
from veltrix_bench.report.formatting import short_number
from veltrix_bench.report.html import TEMPLATES


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def latency_slos_ms(slos: list[str]) -> dict[str, float]:
    """The objectives on latency (p99 < 50ms ...) and their bounds in ms, for the SLO lines."""
    checks = [parse_check(text) for text in slos]
    return {check.text: check.bound for check in checks if check.metric.unit == "ms"}


def render(result: CapacityResult, capacity_dir: Path) -> str:
    configs = result.configs
    figures = {
        "Latency by offered rate": capacity_plots.latency_curve(
            configs, latency_slos_ms(result.settings.slos)
        ),
        "Answered ok vs offered": capacity_plots.achieved_curve(configs),
        "Engine CPU per event": capacity_plots.engine_curve(
            configs, lambda t: t.engine_cpu_us_per_event, "Engine CPU per event", "µs per event"
        ),
        "Engine queue depth": capacity_plots.engine_curve(
            configs, lambda t: t.max_queue_depth, "Engine queue depth (max per trial)", "events"
        ),
    }
    trial_dirs = {t.run_dir for c in configs for s in c.steps for t in s.trials}
    return TEMPLATES.get_template("capacity.html.j2").render(
        r=msgspec.to_builtins(result),
        # SVG made by matplotlib from numbers: names only as text inside it, escaped there
        plots={title: Markup(svg) if svg else None for title, svg in figures.items()},
        method=method(result.settings),
        links={path: os.path.relpath(path, capacity_dir) for path in trial_dirs},
        rate=per_second,
        num=short_number,
        share=_share,
    )
