"""report.html: one self-contained page (inline SVG plots, no network) a person reads in seconds."""

from __future__ import annotations

import msgspec
import pandas as pd
from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from veltrix_bench.models.summary import Summary
from veltrix_bench.report import plots

TEMPLATES = Environment(
    loader=PackageLoader("veltrix_bench.report", "templates"),
    autoescape=True,  # every string from a scenario, config or response is escaped
)


def render(
    summary: Summary, series: pd.DataFrame, spectra: dict[str, list[tuple[float, float]]]
) -> str:
    figures = {
        "Latency by percentile": plots.percentile_spectrum(spectra),
        "Latency over time": plots.over_time(
            series,
            {"p50_ms": "p50", "p99_ms": "p99", "service_p99_ms": "service-time p99"},
            "Intended-time latency per second",
            "ms",
        ),
        "Rate over time": plots.over_time(
            series,
            {
                "target_rate": "target",
                "requests": "achieved",
                "errors": "errors",
                "rejected": "429s",
            },  # fmt: skip
            "Achieved vs target rate, errors and 429s",
            "requests per second",
        ),
        "Engine over time": plots.engine_over_time(series),
    }
    # Plots are SVG produced by matplotlib from numbers, never from user strings.
    plots_html = {title: Markup(svg) if svg else None for title, svg in figures.items()}
    healthy = summary.complete and not summary.broken_invariants
    return TEMPLATES.get_template("report.html.j2").render(
        s=msgspec.to_builtins(summary),  # the template reads summary.json's own keys
        plots=plots_html,
        healthy=healthy and not summary.generator.saturated,
    )
