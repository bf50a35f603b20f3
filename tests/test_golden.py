"""Golden files: summary.json, comparison.json and gate.json written by real runs of an earlier
vbench (before the typed models) are what the commands still write from the same inputs,
byte for byte apart from the paths they were run with; and a new run has the same shape."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from veltrix_bench.cli import app
from veltrix_bench.models.comparison import Comparison
from veltrix_bench.models.documents import decode_document, document_text
from veltrix_bench.models.gate import GateResult
from veltrix_bench.models.run_record import RunRecord
from veltrix_bench.models.summary import Summary

GOLDEN = Path(__file__).parent / "golden"
RUNS = ("default-1", "default-2", "tuned", "tuned-profiled")
runner = CliRunner()


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    """Copies of the golden run directories without their summaries and reports."""
    copies = {}
    for name in RUNS:
        copy = tmp_path / name
        shutil.copytree(GOLDEN / "runs" / name, copy)
        for derived in ("summary.json", "report.md"):
            (copy / derived).unlink()
        copies[name] = copy
    return copies


@pytest.mark.parametrize(
    ("path", "model"),
    [
        *((f"runs/{name}/summary.json", Summary) for name in RUNS),
        *((f"runs/{name}/run.json", RunRecord) for name in RUNS),
        ("comparison.json", Comparison),
        ("comparison-paired.json", Comparison),
    ],
)
def test_documents_round_trip_through_their_models_byte_for_byte(path: str, model: type) -> None:
    text = (GOLDEN / path).read_text()
    assert document_text(decode_document(text, model, path)) == text


@pytest.mark.parametrize("path", ["gate-threshold.json", "gate-regression.json"])
def test_gate_documents_round_trip_through_their_model(path: str) -> None:
    """The same JSON; each check's `kind` now comes first (it tells the two kinds apart)."""
    text = (GOLDEN / path).read_text()
    assert json.loads(document_text(decode_document(text, GateResult, path))) == json.loads(text)


@pytest.mark.parametrize("name", RUNS)
def test_report_rewrites_the_same_summary_and_markdown(runs: dict[str, Path], name: str) -> None:
    result = runner.invoke(app, ["report", str(runs[name])])
    assert result.exit_code == 0, result.output
    for derived in ("summary.json", "report.md"):
        golden = (GOLDEN / "runs" / name / derived).read_text()
        assert (runs[name] / derived).read_text() == golden, derived


def written_path(output: str) -> Path:
    return Path(output.strip().splitlines()[-1])


def test_compare_of_finished_runs_writes_the_same_comparison(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    for name in RUNS:
        assert runner.invoke(app, ["report", str(runs[name])]).exit_code == 0
    dirs = [str(runs[name]) for name in RUNS]
    result = runner.invoke(app, ["compare", *dirs, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    compare_dir = written_path(result.output)
    written = json.loads((compare_dir / "comparison.json").read_text())
    golden = json.loads((GOLDEN / "comparison.json").read_text())
    for document in (written, golden):
        for side in document["sides"]:
            side["run_dirs"] = len(side["run_dirs"])  # where they were copied to
    assert written == golden
    assert (compare_dir / "comparison.md").read_text() == (GOLDEN / "comparison.md").read_text()


def without_source(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "source"}


def test_gate_on_a_run_writes_the_same_gate_json(runs: dict[str, Path]) -> None:
    run_dir = runs["default-1"]
    assert runner.invoke(app, ["report", str(run_dir)]).exit_code == 0
    result = runner.invoke(app, ["gate", str(run_dir)])
    assert result.exit_code == 0, result.output
    written = json.loads((run_dir / "gate.json").read_text())
    golden = json.loads((GOLDEN / "gate-threshold.json").read_text())
    assert without_source(written) == without_source(golden)


def test_gate_of_a_candidate_against_a_baseline_writes_the_same_gate_json(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    for name in ("default-1", "tuned"):
        assert runner.invoke(app, ["report", str(runs[name])]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "gate", "--baseline", str(runs["default-1"]), "--candidate", str(runs["tuned"]),
            "--max-regression", "p99=10%", "--out", str(tmp_path / "out"),
        ],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    written = json.loads(written_path(result.output).read_text())
    golden = json.loads((GOLDEN / "gate-regression.json").read_text())
    assert without_source(written) == without_source(golden)


def shape(value: Any) -> Any:
    """Keys and kinds of a JSON document; numbers are one kind (a count may be 0 or 0.0)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return "list"  # of whatever happened: warnings, workers, stages
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


@pytest.mark.slow
def test_a_new_run_has_the_golden_summary_shape(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "veltrix_bench", "run", "--scenario", "smoke", "--rate", "60",
         "--duration", "3s", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((written_path(done.stdout) / "summary.json").read_text())
    golden = json.loads((GOLDEN / "runs" / "default-1" / "summary.json").read_text())
    expected = shape(golden)
    # keys added since the golden files were written (added, never renamed)
    expected["engine"].update(cpu_s="number", cpu_us_per_event="number")
    assert shape(summary) == expected, summary["warnings"]
