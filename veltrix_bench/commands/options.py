"""Option values every command reads the same way: durations, checks, bounds, profile kinds."""

from __future__ import annotations

from collections.abc import Iterable

from veltrix_bench.analysis.checks import Check, CheckError, parse_check
from veltrix_bench.analysis.metrics import parse_metric_bounds
from veltrix_bench.durations import parse_duration
from veltrix_bench.errors import UsageError

PROFILE_CHOICES = {"memory": ("memory",), "cpu": ("cpu",), "all": ("memory", "cpu"), "none": ()}


def duration_option(text: str | None, option: str) -> float | None:
    """Seconds in `text` (None stays None); UsageError naming the option."""
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def checks_option(texts: Iterable[str], source: str = "") -> list[Check]:
    """Parsed threshold checks; UsageError with the check and, when given, where it came from."""
    try:
        return [parse_check(text) for text in texts]
    except CheckError as exc:
        raise UsageError(f"{source}: {exc}" if source else str(exc)) from None


def bounds_option(items: Iterable[str], option: str) -> dict[str, float]:
    """['p99=10%', ...] -> {'p99': 0.10}; UsageError naming the option and the item."""
    try:
        return parse_metric_bounds(list(items), option)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def profile_option(profile: str | None) -> tuple[str, ...] | None:
    """`--profile` as profiler kinds; None when not given (the scenario decides)."""
    if profile is None:
        return None
    if profile not in PROFILE_CHOICES:
        raise UsageError(f"--profile '{profile}': expected memory, cpu, all or none")
    return PROFILE_CHOICES[profile]


def choice_option(value: str, choices: tuple[str, ...], option: str) -> str:
    if value not in choices:
        raise UsageError(f"{option} '{value}': expected {' or '.join(choices)}")
    return value
