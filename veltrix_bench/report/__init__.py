"""Reports of a run: each format is one module with one function from summary data to text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from veltrix_bench.analysis.comparison import Side, build_comparison, side_spectra
from veltrix_bench.analysis.histograms import merged, read_intervals, spectrum
from veltrix_bench.analysis.summary import read_timeseries, write_summary
from veltrix_bench.report import comparison_html, comparison_md, html, markdown
from veltrix_bench.run.rundir import RunDir


def write_reports(run_dir: RunDir) -> dict[str, Any]:
    """Analyse the run directory again and (re)write summary.json, report.md, report.html."""
    summary = write_summary(run_dir)
    series = read_timeseries(run_dir)
    spectra = {
        "intended-time latency": spectrum(merged(read_intervals(run_dir.latency_log))),
        "service time": spectrum(merged(read_intervals(run_dir.service_log))),
    }
    run_dir.file("report.md").write_text(markdown.render(summary))
    run_dir.file("report.html").write_text(html.render(summary, series, spectra))
    return summary


def write_comparison_reports(
    out_dir: Path, sides: list[Side], scenario: str, thresholds: dict[str, float]
) -> dict[str, Any]:
    """comparison.json, comparison.md and comparison.html for these sides."""
    comparison = build_comparison(sides, scenario, thresholds)
    (out_dir / "comparison.json").write_text(json.dumps(comparison, indent=2) + "\n")
    (out_dir / "comparison.md").write_text(comparison_md.render(comparison))
    (out_dir / "comparison.html").write_text(
        comparison_html.render(comparison, sides, side_spectra(sides))
    )
    return comparison
