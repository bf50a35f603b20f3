"""Small formatters shared by the text outputs (console, Markdown)."""

from __future__ import annotations


def inert(value: object) -> str:
    """Scenario, config and response strings, made inert inside Markdown tables and HTML."""
    return (
        str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace("|", "\\|").replace("\n", " ")
    )  # fmt: skip


def short_number(value: float | None) -> str:
    """Four significant digits below 1,000, whole numbers above; a dash for nothing."""
    if value is None:
        return "–"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def interval(low: float | None, high: float | None) -> str:
    """A confidence interval as 'low–high' (three decimals); a dash when there is none."""
    return "–" if low is None or high is None else f"{low:.3f}–{high:.3f}"
