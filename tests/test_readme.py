"""The README stays a manual: at most 20 KB, the two commands as CI runs them, figures linked."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_is_a_manual_of_at_most_20_kb() -> None:
    assert len(README.encode()) <= 20_000


def test_ci_runs_the_readme_test_command_verbatim_and_it_brings_chromium() -> None:
    line = re.search(r"Install and run the tests:\n\n```sh\n(.+)\n```", README)
    assert line is not None
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert line.group(1) in ci
    assert line.group(1).startswith("./scripts/test")
    assert "chromium" in (REPO / "scripts" / "test").read_text(encoding="utf-8")


def test_readme_main_command_installs_and_runs_vbench() -> None:
    assert "pip install -e . && vbench run" in README


def test_every_headline_figure_names_the_script_that_measures_it() -> None:
    table = README.split("<!-- headline-figures -->", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > 3
    for row in rows[1:]:
        commands = re.findall(r"`python -m benchmarks\.(\w+)", row)
        assert commands, row
        for script in commands:
            assert (REPO / "benchmarks" / f"{script}.py").is_file(), script
