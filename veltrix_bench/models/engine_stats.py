"""The embedded engine's /v1/stats counters, read from whatever a target answered.

Another implementation of the API may answer with another shape, or not at all: then there
are no counters, `shape_problem` says why, and the checks that need them are not applicable.
"""

from __future__ import annotations

from typing import Any

import msgspec

StatsAnswer = dict[str, Any]
"""/v1/stats as a target answered it: any JSON object (the embedded engine's has counters)."""


class EngineCounters(msgspec.Struct, frozen=True):
    """Events per type the engine acknowledged and persisted, and treasures won, so far."""

    acknowledged: dict[str, int]
    persisted: dict[str, int]
    treasures_won: int


class EventCounts(msgspec.Struct, frozen=True):
    acknowledged: int
    persisted: int


def shape_problem(stats: StatsAnswer | None) -> str | None:
    """Why a /v1/stats answer is not the embedded engine's shape; None when it is, or when
    there is no answer (a run that ended before reading it)."""
    if stats is None:
        return None
    try:
        msgspec.convert(stats, EngineCounters)
    except msgspec.ValidationError as exc:
        return f"the target's /v1/stats has another shape ({exc})"
    return None


def counters(stats: StatsAnswer | None) -> EngineCounters | None:
    """The counters; None when not read or not the engine's shape."""
    if stats is None or shape_problem(stats) is not None:
        return None
    return msgspec.convert(stats, EngineCounters)


def events_between(before: StatsAnswer | None, after: StatsAnswer | None) -> EventCounts | None:
    """Events acknowledged and persisted between two /v1/stats reads; None when either read
    is missing or not the engine's shape."""
    first, last = counters(before), counters(after)
    if first is None or last is None:
        return None
    return EventCounts(
        acknowledged=sum(last.acknowledged.values()) - sum(first.acknowledged.values()),
        persisted=sum(last.persisted.values()) - sum(first.persisted.values()),
    )
