"""Small formatters shared by the text outputs (console, Markdown)."""

from __future__ import annotations

import re

# Markdown punctuation that could make a name live: links and images ([ ] !), code spans (`),
# emphasis and strikethrough (* _ ~), table cells (|), and the escape character itself.
_MARKDOWN = re.compile(r"([\\`*_\[\]!|~])")


def inert(value: object) -> str:
    """Scenario, config and response strings, made inert inside Markdown text and tables: HTML
    is escaped as entities, Markdown punctuation with a backslash, a line break is a space."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", text).replace("\r", " ").replace("\n", " ")


def code(value: object) -> str:
    """A string as a Markdown code span, shown exactly as it is whatever backticks it holds
    (the fence is one backtick longer than its longest run; CommonMark)."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def short_number(value: float | None) -> str:
    """Four significant digits below 1,000, whole numbers above; a dash for nothing."""
    if value is None:
        return "–"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def interval(low: float | None, high: float | None) -> str:
    """A confidence interval as 'low–high' (three decimals); a dash when there is none."""
    return "–" if low is None or high is None else f"{low:.3f}–{high:.3f}"
