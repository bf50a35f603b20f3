"""Writing a run's summary and reports from its directory: strict for `vbench report` (a bad
measurement file changes nothing), lenient for the run that just made the directory (it
always leaves a summary, and says what it lacks)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from veltrix_bench.errors import RunFailed
from veltrix_bench.report import write_reports
from veltrix_bench.rundir import RunDir, read_record

GOLDEN_RUN = Path(__file__).parent / "golden" / "runs" / "default-1"


@pytest.fixture
def cut_log_run(tmp_path: Path) -> RunDir:
    """A complete run whose latency log was cut mid-line."""
    run_dir = RunDir(Path(shutil.copytree(GOLDEN_RUN, tmp_path / "run")))
    run_dir.latency_log.write_bytes(run_dir.latency_log.read_bytes()[:-100])
    return run_dir


def test_strict_fails_naming_the_file_and_rewrites_nothing(cut_log_run: RunDir) -> None:
    before = {p.name: p.read_bytes() for p in cut_log_run.path.iterdir()}
    with pytest.raises(RunFailed, match="latency.hlog: not a readable interval log"):
        write_reports(cut_log_run)
    assert {p.name: p.read_bytes() for p in cut_log_run.path.iterdir()} == before


def test_lenient_writes_a_summary_that_says_what_it_lacks(cut_log_run: RunDir) -> None:
    summary = write_reports(cut_log_run, lenient=True)
    assert summary.status == "failed" and "latency.hlog" in summary.status_detail
    assert summary.latency_ms.p99 is None  # not read, so not reported
    assert summary.service_time_ms.p99 is not None  # the other log was fine
    assert any("latency.hlog" in warning for warning in summary.warnings)
    assert read_record(cut_log_run.path).status == "failed"
    on_disk = json.loads(cut_log_run.summary.read_text())
    assert on_disk["status"] == "failed" and on_disk["requests"]["total"] == 180


def test_a_gate_trial_skips_report_html_and_vbench_report_writes_it_later(
    tmp_path: Path,
) -> None:
    run_dir = RunDir(Path(shutil.copytree(GOLDEN_RUN, tmp_path / "run")))
    (run_dir.path / "report.html").unlink(missing_ok=True)
    without = write_reports(run_dir, lenient=True, html=False)
    assert not (run_dir.path / "report.html").exists()
    assert (run_dir.path / "report.md").exists()
    summary_text = run_dir.summary.read_text()
    assert write_reports(run_dir) == without  # the same summary, and now the page
    assert run_dir.summary.read_text() == summary_text
    assert "<html" in (run_dir.path / "report.html").read_text()
