"""`vbench report`: analyse a run directory again and rewrite its summary and reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from veltrix_bench.errors import EXIT_OK
from veltrix_bench.models.summary import Summary
from veltrix_bench.report import write_reports
from veltrix_bench.rundir import RunDir, read_record


@dataclass(frozen=True)
class ReportOutcome:
    report_html: Path
    summary: Summary
    exit_code: int = EXIT_OK


def report(run_dir: Path) -> ReportOutcome:
    read_record(run_dir)  # not a run directory: say so before anything is written
    summary = write_reports(RunDir(run_dir))
    return ReportOutcome(run_dir / "report.html", summary)
