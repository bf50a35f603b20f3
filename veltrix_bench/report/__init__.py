"""Reports of a run: each format is one module with one function from summary data to text."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veltrix_bench.analysis.gate import GateResult
from veltrix_bench.analysis.histograms import merged_log, spectrum
from veltrix_bench.analysis.summary import read_timeseries, write_summary
from veltrix_bench.report import gate_md, html, junit, markdown
from veltrix_bench.rundir import RunDir

if TYPE_CHECKING:
    from veltrix_bench.analysis.comparison import Side


def write_reports(run_dir: RunDir) -> dict[str, Any]:
    """Analyse the run directory again and (re)write summary.json, report.md, report.html."""
    latency, service = merged_log(run_dir.latency_log), merged_log(run_dir.service_log)
    summary = write_summary(run_dir, latency, service)
    series = read_timeseries(run_dir)
    spectra = {"intended-time latency": spectrum(latency), "service time": spectrum(service)}
    run_dir.file("report.md").write_text(markdown.render(summary))
    run_dir.file("report.html").write_text(html.render(summary, series, spectra))
    return summary


def write_comparison_reports(
    out_dir: Path, sides: list[Side], scenario: str, thresholds: dict[str, float]
) -> dict[str, Any]:
    """comparison.json, comparison.md and comparison.html for these sides."""
    from veltrix_bench.analysis.comparison import build_comparison, side_spectra
    from veltrix_bench.report import comparison_html, comparison_md

    comparison = build_comparison(sides, scenario, thresholds)
    (out_dir / "comparison.json").write_text(json.dumps(comparison, indent=2) + "\n")
    (out_dir / "comparison.md").write_text(comparison_md.render(comparison))
    (out_dir / "comparison.html").write_text(
        comparison_html.render(comparison, sides, side_spectra(sides))
    )
    return comparison


def publish_gate(gate: GateResult, out_dir: Path, junit_path: Path | None) -> str:
    """gate.json always; JUnit XML when asked; Markdown appended to $GITHUB_STEP_SUMMARY."""
    (out_dir / "gate.json").write_text(json.dumps(gate.to_json(), indent=2) + "\n")
    text = gate_md.render(gate)
    (out_dir / "gate.md").write_text(text)
    if junit_path is not None:
        junit_path.parent.mkdir(parents=True, exist_ok=True)
        junit_path.write_text(junit.render(gate))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return text
