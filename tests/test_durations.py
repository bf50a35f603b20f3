"""Human durations ('30s', '2m', '1h30m', '500ms') into seconds, and what is refused."""

from __future__ import annotations

import pytest

from veltrix_bench.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("2m", 120.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("1m 30s", 90.0),
        (" 45s ", 45.0),
        ("1.5s", 1.5),
        ("10", 10.0),
        ("0.25", 0.25),
        (7, 7.0),
        (2.5, 2.5),
    ],
)
def test_every_unit_and_a_bare_number_of_seconds(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5x", "s", "30 seconds", "1h-30m", "ms500", "", "3d"])
def test_anything_else_names_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration like 30s, 2m, 1h30m or 500ms"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["0s", "0", "-5", 0, -1.0, "0ms"])
def test_a_duration_must_be_positive(text: str | float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["inf", "nan", float("inf"), "1e400"])
def test_a_duration_must_be_finite(text: str | float) -> None:
    with pytest.raises(ValueError, match="finite"):
        parse_duration(text)
