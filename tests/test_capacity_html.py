"""capacity.html as a person sees it, in headless Chromium: every plot drawn with a size, no
console errors, hostile config names shown as text; capacity.md keeps them inert too."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from tests.capacities import config, write_capacity
from tests.test_report_html import HOSTILE, browser, open_page, plot_sizes  # noqa: F401
from veltrix_bench.report import write_capacity_reports
from veltrix_bench.rundir import read_capacity

pytestmark = pytest.mark.slow


@pytest.fixture
def capacity_dir(tmp_path: Path) -> Path:
    hostile = msgspec.structs.replace(config("default", 250.0, 260.0), name=f"default{HOSTILE}")
    folder = write_capacity(tmp_path / "capacity", hostile, config("tuned", 3980.0, 4150.0))
    result = read_capacity(folder)
    result = msgspec.structs.replace(result, headline=f"tuned sustains 3,980/s vs {HOSTILE}")
    write_capacity_reports(folder, result)
    return folder


def test_the_capacity_report_draws_every_plot_and_keeps_names_inert(
    capacity_dir: Path,
    browser: object,  # noqa: F811
) -> None:
    page, errors, dialogs = open_page(browser, capacity_dir / "capacity.html", "capacity.png")
    assert errors == [] and dialogs == []
    sizes = plot_sizes(page)
    assert set(sizes) == {
        "Latency by offered rate", "Answered ok vs offered", "Engine CPU per event",
        "Engine queue depth",
    }  # fmt: skip
    for title, (width, height) in sizes.items():
        assert width > 400 and height > 150, title
    text = page.inner_text("body")  # type: ignore[attr-defined]
    assert text.index("tuned sustains 3,980/s") < text.index("step by step")  # headline first
    assert HOSTILE in text
    html = (capacity_dir / "capacity.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    markdown = (capacity_dir / "capacity.md").read_text()
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert markdown.index("**tuned sustains") < markdown.index("### ")
