"""Parse human durations ('30s', '2m', '1h30m', '500ms') into seconds."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_FACTOR = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds in `text`; a bare number is seconds. Raises ValueError with what is allowed."""
    if isinstance(text, int | float):
        return _positive(float(text))
    cleaned = text.strip().replace(" ", "")
    try:
        number = float(cleaned)
    except ValueError:
        number = None
    if number is not None:
        return _positive(number)
    parts = _PART.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(f"'{text}' is not a duration like 30s, 2m, 1h30m or 500ms")
    return _positive(sum(float(number) * _FACTOR[unit] for number, unit in parts))


def _positive(seconds: float) -> float:
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number of seconds")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds
