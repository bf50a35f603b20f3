"""Parse human durations ('30s', '2m', '1h30m', '500ms') into seconds."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_FACTOR = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds in `text`; a bare number is seconds. Raises ValueError with what is allowed."""
    if isinstance(text, int | float):
        if text <= 0:
            raise ValueError("a duration must be positive")
        return float(text)
    cleaned = text.strip().replace(" ", "")
    try:
        return parse_duration(float(cleaned))
    except ValueError:
        pass
    parts = _PART.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(f"'{text}' is not a duration like 30s, 2m, 1h30m or 500ms")
    seconds = sum(float(number) * _FACTOR[unit] for number, unit in parts)
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds
