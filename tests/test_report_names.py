"""Names from scenarios and configs stay text in every report: Markdown links, images and code
spans inert in report.md and comparison.md, and `$` plain text in the plots (not mathtext)."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
from typer.testing import CliRunner

from veltrix_bench.cli import app
from veltrix_bench.models.documents import write_document
from veltrix_bench.report.formatting import code, inert
from veltrix_bench.rundir import read_record, read_summary

GOLDEN_RUNS = Path(__file__).parent / "golden" / "runs"
LINK = "[click me](http://evil.example)"
IMAGE = "![pixel](http://evil.example/p.png)"
TICKS = "`rm -rf /`"
MATH = "cost $_$ vs $\\frac{1}$"  # an even number of $: mathtext that does not parse


def renamed_run(tmp_path: Path, golden: str, scenario: str, config: str) -> Path:
    run_dir = Path(shutil.copytree(GOLDEN_RUNS / golden, tmp_path / golden))
    record = read_record(run_dir)
    write_document(
        run_dir / "run.json", msgspec.structs.replace(record, scenario=scenario, config=config)
    )
    result = CliRunner().invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    return run_dir


def test_links_images_and_backticks_in_names_are_inert_in_report_md(tmp_path: Path) -> None:
    run_dir = renamed_run(tmp_path, "default-1", f"{LINK} {TICKS}", IMAGE)
    markdown = (run_dir / "report.md").read_text()
    for live in ("[click me](", "![pixel](", TICKS):
        assert live not in markdown
    assert inert(LINK) in markdown and inert(IMAGE) in markdown and inert(TICKS) in markdown


def test_names_are_inert_in_comparison_md_and_dollars_do_not_break_the_plots(
    tmp_path: Path,
) -> None:
    base = renamed_run(tmp_path, "default-1", f"smoke {TICKS}", f"{LINK} {MATH}")
    other = renamed_run(tmp_path, "tuned", f"smoke {TICKS}", f"{IMAGE} {MATH}")
    result = CliRunner().invoke(app, ["compare", str(base), str(other), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    compare_dir = Path(result.output.strip().splitlines()[-1])
    markdown = (compare_dir / "comparison.md").read_text()
    for live in ("[click me](", "![pixel](", "`rm"):
        assert live not in markdown.replace(code(f"smoke {TICKS}"), "")
    assert code(f"smoke {TICKS}") in markdown  # the scenario, as one code span
    html = (compare_dir / "comparison.html").read_text()
    assert MATH in html
    assert read_summary(base).config == f"{LINK} {MATH}"


def test_a_code_span_holds_any_run_of_backticks() -> None:
    assert code("smoke") == "`smoke`"
    assert code("a`b") == "``a`b``"
    assert code("`x") == "`` `x ``"
