"""comparison.html: the verdict, overlaid latency spectra, the metric table, every trial."""

from __future__ import annotations

import msgspec
from markupsafe import Markup

from veltrix_bench.analysis.compare import COMPARED, METRICS, values
from veltrix_bench.analysis.comparison import Side
from veltrix_bench.models.comparison import Comparison
from veltrix_bench.report import plots
from veltrix_bench.report.html import TEMPLATES


def render(
    comparison: Comparison, sides: list[Side], spectra: dict[str, list[tuple[float, float]]]
) -> str:
    points = {
        side.name: {name: values(side.trials, METRICS[name]) for name in COMPARED} for side in sides
    }
    figures = {
        "Latency by percentile (all unprofiled trials per side)": plots.percentile_spectrum(
            spectra
        ),
        "Every trial": plots.trial_points(points, list(COMPARED)),
    }
    return TEMPLATES.get_template("comparison.html.j2").render(
        c=msgspec.to_builtins(comparison),
        plots={t: Markup(svg) if svg else None for t, svg in figures.items()},
    )
