"""The HTML reports as a person sees them: rendered in headless Chromium (Debian's), no console
errors, every plot present with a size; hostile strings escaped; partial runs still render."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
HOSTILE = "<script>alert('owned')</script>"


def vbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "veltrix_bench", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real short run whose scenario name and description carry markup."""
    base = tmp_path_factory.mktemp("html")
    scenario = base / "hostile.toml"
    scenario.write_text(
        f'name = "{HOSTILE}"\ndescription = "<img src=x onerror=alert(2)>"\n'
        '[load]\nrate = 50\nduration = "3s"\ndrain = "2s"\nmax_in_flight = 100\n'
        "[world]\nhunts = 2\nplayers = 200\n"
        '[thresholds]\nchecks = ["p99 < 1s"]\n'
    )
    done = vbench("run", "--scenario", str(scenario), "--out", str(base / "runs"))
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.fail("headless Chromium is needed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield launched
        launched.close()


def open_page(browser: object, path: Path, screenshot: str) -> tuple[object, list[str], list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    dialogs: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(path.as_uri())
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    return page, errors, dialogs


def plot_sizes(page: object) -> dict[str, tuple[float, float]]:
    sizes = {}
    for figure in page.query_selector_all("figure[data-plot]"):  # type: ignore[attr-defined]
        svg = figure.query_selector("svg")
        box = svg.bounding_box() if svg else None
        sizes[figure.get_attribute("data-plot")] = (box["width"], box["height"]) if box else (0, 0)
    return sizes


def test_the_run_report_renders_every_plot_without_console_errors(run_dir: Path, browser) -> None:
    page, errors, dialogs = open_page(browser, run_dir / "report.html", "report.png")
    assert errors == [] and dialogs == []
    sizes = plot_sizes(page)
    assert set(sizes) == {
        "Latency by percentile", "Latency over time", "Rate over time", "Engine over time"
    }  # fmt: skip
    for title, (width, height) in sizes.items():
        assert width > 200 and height > 100, title
    text = page.inner_text("body")  # type: ignore[attr-defined]
    assert HOSTILE in text  # shown as text, not run
    html = (run_dir / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html


def test_markdown_and_console_output_keep_markup_inert(run_dir: Path) -> None:
    from rich.console import Console

    from veltrix_bench.report.console import print_summary
    from veltrix_bench.rundir import read_summary

    markdown = (run_dir / "report.md").read_text()
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    summary = msgspec.structs.replace(
        read_summary(run_dir), config="[bold red]tuned[/]"
    )  # rich markup: printed as it is, never applied
    console = Console(record=True, width=200, color_system=None)
    print_summary(console, summary)
    text = console.export_text()
    assert HOSTILE in text and "[bold red]tuned[/]" in text


def test_the_comparison_report_renders_and_escapes(run_dir: Path, browser, tmp_path: Path) -> None:
    other = tmp_path / "other-run"
    shutil.copytree(run_dir, other)
    summary = json.loads((other / "summary.json").read_text())
    summary["config"] = f"tuned{HOSTILE}"
    (other / "summary.json").write_text(json.dumps(summary))
    done = vbench("compare", str(run_dir), str(other), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    compare_dir = Path(done.stdout.strip().splitlines()[-1])
    page, errors, dialogs = open_page(browser, compare_dir / "comparison.html", "comparison.png")
    assert errors == [] and dialogs == []
    sizes = plot_sizes(page)
    assert len(sizes) == 2 and all(w > 200 and h > 100 for w, h in sizes.values())
    assert "<script>" not in (compare_dir / "comparison.html").read_text()


def test_a_run_that_failed_part_way_still_renders_and_says_what_is_missing(
    run_dir: Path, browser, tmp_path: Path
) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(run_dir, partial)
    for name in ("latency.hlog", "service.hlog", "timeseries.csv", "summary.json"):
        (partial / name).unlink()
    record = json.loads((partial / "run.json").read_text())
    record.update(status="engine_died", status_detail="engine exited (code -9) mid-run",
                  final=None, stats_after=None)  # fmt: skip
    (partial / "run.json").write_text(json.dumps(record))
    done = vbench("report", str(partial))
    assert done.returncode == 0, done.stderr
    page, errors, _ = open_page(browser, partial / "report.html", "partial.png")
    assert errors == []
    text = page.inner_text("body")  # type: ignore[attr-defined]
    assert "engine exited (code -9) mid-run" in text
    assert "no data was recorded for this plot" in text
    assert "not checked" in text  # invariants
