"""Reports of a run: each format is one module with one function from summary data to text."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import msgspec
import pandas as pd

from veltrix_bench.analysis.histograms import merged_log, spectrum
from veltrix_bench.analysis.summary import build_summary
from veltrix_bench.analysis.timeseries import read_timeseries
from veltrix_bench.errors import RunFailed
from veltrix_bench.hdr import new_histogram
from veltrix_bench.models.capacity import CapacityResult
from veltrix_bench.models.comparison import Comparison
from veltrix_bench.models.documents import write_document
from veltrix_bench.models.gate import GateResult
from veltrix_bench.models.run_record import COMPLETE, FAILED, RUNNING
from veltrix_bench.models.summary import Summary
from veltrix_bench.report import gate_md, junit, markdown
from veltrix_bench.report import html as html_report
from veltrix_bench.rundir import CAPACITY, COMPARISON, GATE, RunDir, read_record

if TYPE_CHECKING:
    from veltrix_bench.analysis.comparison import Side

T = TypeVar("T")


def write_reports(run_dir: RunDir, *, lenient: bool = False, html: bool = True) -> Summary:
    """Analyse the run directory again and (re)write summary.json, report.md, report.html
    (`html` False: not the HTML, its plots take a second; `vbench report` writes it later).

    Everything is read before anything is written: a measurement file that cannot be read
    (RunFailed naming it) leaves the directory as it was. `lenient` (the run that just made
    the directory, which must leave a summary): such a file counts as empty instead, and
    run.json says the run failed and why.
    """
    record = read_record(run_dir.path)
    measured = record.final is not None and record.final.requests.total > 0
    problems: list[str] = []

    def read(reader: Callable[[], T], empty: Callable[[], T]) -> T:
        try:
            return reader()
        except RunFailed as exc:
            if not lenient:
                raise
            problems.append(exc.message)
            return empty()

    latency = read(lambda: merged_log(run_dir.latency_log, required=measured), new_histogram)
    service = read(lambda: merged_log(run_dir.service_log, required=measured), new_histogram)
    series = read(lambda: read_timeseries(run_dir.timeseries), pd.DataFrame)
    if problems:
        failed = record.status in (COMPLETE, RUNNING)
        record = msgspec.structs.replace(
            record,
            status=FAILED if failed else record.status,
            status_detail="; ".join(problems) if failed else record.status_detail,
            warnings=[*record.warnings, *problems],
        )
        write_document(run_dir.record, record)
    summary = build_summary(record, latency, service, series)
    write_document(run_dir.summary, summary)
    run_dir.file("report.md").write_text(markdown.render(summary))
    if html:
        spectra = {"intended-time latency": spectrum(latency), "service time": spectrum(service)}
        run_dir.file("report.html").write_text(html_report.render(summary, series, spectra))
    return summary


def write_comparison_reports(
    out_dir: Path, sides: list[Side], scenario: str, thresholds: dict[str, float]
) -> Comparison:
    """comparison.json, comparison.md and comparison.html for these sides."""
    from veltrix_bench.analysis.comparison import build_comparison, side_spectra
    from veltrix_bench.report import comparison_html, comparison_md

    comparison = build_comparison(sides, scenario, thresholds)
    spectra = side_spectra(sides)  # reads every trial's log: before anything is written
    write_document(out_dir / COMPARISON, comparison)
    (out_dir / "comparison.md").write_text(comparison_md.render(comparison))
    (out_dir / "comparison.html").write_text(comparison_html.render(comparison, sides, spectra))
    return comparison


def write_capacity_reports(out_dir: Path, result: CapacityResult) -> None:
    """capacity.json, capacity.md and capacity.html of a capacity search."""
    from veltrix_bench.report import capacity_html, capacity_md

    write_document(out_dir / CAPACITY, result)
    (out_dir / "capacity.md").write_text(capacity_md.render(result))
    (out_dir / "capacity.html").write_text(capacity_html.render(result, out_dir))


def publish_gate(gate: GateResult, out_dir: Path, junit_path: Path | None) -> str:
    """gate.json always; JUnit XML when asked; Markdown appended to $GITHUB_STEP_SUMMARY."""
    write_document(out_dir / GATE, gate)
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
