"""`vbench gate CAPACITY_DIR`: a bound on every config's capacity (a lower bound passes only a
`>=` it meets) and a capacity regression called only when the candidate's whole bracket lies
below the baseline's capacity by more than the bound; JUnit, Markdown and JSON as ever."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.capacities import config, write_capacity
from veltrix_bench.cli import app

runner = CliRunner()
DEFAULT = config("default", 250.0, 260.0)
TUNED = config("tuned", 3980.0, 4150.0)
TUNED_BOUND = config("tuned", 3200.0, None, limit="generator", lower_bound=True)


def gate(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = runner.invoke(app, ["gate", *args])
    folder = Path(args[0])
    document = json.loads((folder / "gate.json").read_text()) if result.exit_code != 2 else {}
    return result.exit_code, document


def test_every_config_gets_the_check_and_one_below_it_fails_the_gate(tmp_path: Path) -> None:
    folder = write_capacity(tmp_path / "cap", DEFAULT, TUNED)
    junit = tmp_path / "junit.xml"
    code, document = gate(str(folder), "--check", "capacity >= 3000", "--junit", str(junit))
    assert code == 1
    verdicts = {check["name"]: check["passed"] for check in document["checks"]}
    assert verdicts == {"default: capacity >= 3000": False, "tuned: capacity >= 3000": True}
    assert document["checks"][1]["evidence"]["value"] == 3980.0
    assert 'failures="1"' in junit.read_text()
    assert "default sustains 250/s" in (folder / "gate.md").read_text()


@pytest.mark.parametrize(
    ("check", "passed", "says"),
    [
        ("capacity >= 3000", True, "at least 3,200/s (a lower bound)"),
        ("capacity > 3200", False, "cannot be shown to hold"),
        ("capacity >= 4000", False, "cannot be shown to hold"),
        ("capacity <= 5000", False, "cannot pass a '<=' check"),
        ("capacity < 5000", False, "the engine may sustain more"),
    ],
)
def test_a_lower_bound_passes_only_an_at_least_check_it_meets(
    tmp_path: Path, check: str, passed: bool, says: str
) -> None:
    folder = write_capacity(tmp_path / "cap", TUNED_BOUND)
    code, document = gate(str(folder), "--check", check)
    assert code == (0 if passed else 1)
    [only] = document["checks"]
    assert only["passed"] is passed and says in only["message"], only["message"]


@pytest.mark.parametrize(
    ("baseline", "candidate", "regressed"),
    [
        (DEFAULT, TUNED, False),  # far better
        (TUNED, DEFAULT, True),  # far worse: 260/s < 90% of 3,980/s
        (config("a", 1000, 1050), config("b", 880, 920), False),  # its bracket reaches 900
        (config("a", 1000, 1050), config("b", 850, 890), True),  # the whole bracket below 900
        (config("a", 1000, 1050), config("b", 500, None, "generator", True), False),  # unbounded
        (config("a", 1000, 1050), config("b", None, 100, "below_start"), True),  # none passed
    ],
)
def test_a_capacity_regression_is_called_only_when_the_whole_bracket_is_below_the_bound(
    tmp_path: Path, baseline: object, candidate: object, regressed: bool
) -> None:
    folder = write_capacity(tmp_path / "cap", baseline, candidate)  # type: ignore[arg-type]
    code, document = gate(str(folder), "--max-regression", "capacity=10%")
    assert code == (1 if regressed else 0)
    [check] = document["checks"]
    assert check["kind"] == "regression" and check["passed"] is not regressed
    assert check["evidence"]["verdict"] == ("worse" if regressed else "no difference called")
    assert "interleaved at every step" in check["message"]


def test_a_baseline_without_a_capacity_cannot_pass(tmp_path: Path) -> None:
    folder = write_capacity(tmp_path / "cap", config("a", None, 100, "below_start"), TUNED)
    code, document = gate(str(folder), "--max-regression", "capacity=10%")
    assert code == 1 and "nothing to compare" in document["checks"][0]["message"]


def test_a_search_that_stopped_early_gates_with_exit_3(tmp_path: Path) -> None:
    folder = write_capacity(tmp_path / "cap", TUNED, complete=False)
    code, document = gate(str(folder), "--check", "capacity >= 3000")
    assert code == 3 and document["passed"] is True
