"""Checks that nothing was lost or applied twice, from the engine's counters and what the
generator saw acknowledged."""

from __future__ import annotations

from dataclasses import dataclass

from veltrix_bench.models.engine_stats import EngineCounters, StatsAnswer, counters
from veltrix_bench.models.generator import GeneratorReport


@dataclass(frozen=True)
class InvariantResult:
    name: str
    holds: bool
    detail: str


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    kinds = set(after) | set(before)
    return {
        k: after.get(k, 0) - before.get(k, 0)
        for k in sorted(kinds)
        if after.get(k, 0) - before.get(k, 0)
    }


def acked_equals_persisted(
    before: EngineCounters, after: EngineCounters, final: GeneratorReport
) -> InvariantResult:
    """Every event the engine acknowledged is persisted, and the generator saw the same.

    Exact when the generator drained (every request answered); otherwise what it saw
    acknowledged must lie between nothing lost and what it sent.
    """
    persisted = _delta(after.persisted, before.persisted)
    engine_acked = _delta(after.acknowledged, before.acknowledged)
    seen = {k: v for k, v in sorted(final.acked_by_type.items()) if v}
    problems = []
    if engine_acked != persisted:
        problems.append(f"engine acknowledged {engine_acked} but persisted {persisted}")
    if final.drained:
        if seen != persisted:
            problems.append(f"generator saw {seen} acknowledged, engine persisted {persisted}")
    else:
        sent = final.sent_by_type
        for kind in set(seen) | set(persisted):
            if not seen.get(kind, 0) <= persisted.get(kind, 0) <= sent.get(kind, 0):
                problems.append(
                    f"{kind}: generator saw {seen.get(kind, 0)} acknowledged, sent "
                    f"{sent.get(kind, 0)}, engine persisted {persisted.get(kind, 0)}"
                )
    detail = "; ".join(problems) or f"{sum(persisted.values())} events, per type {persisted}"
    return InvariantResult("acked_equals_persisted", not problems, detail)


def claims_exactly_once(
    before: EngineCounters, after: EngineCounters, final: GeneratorReport
) -> InvariantResult:
    """No treasure was reported won twice, and every win seen is a win the engine counts."""
    wins = final.wins_seen
    twice = sorted(t for t, count in wins.items() if count > 1)
    won_delta = after.treasures_won - before.treasures_won
    problems = []
    if twice:
        problems.append(f"treasures won more than once: {', '.join(twice[:10])}")
    if len(wins) > won_delta:
        problems.append(f"generator saw {len(wins)} treasures won, engine counts {won_delta}")
    detail = "; ".join(problems) or f"{len(wins)} treasures won, each once"
    return InvariantResult("claims_exactly_once", not problems, detail)


def check_all(
    stats_before: StatsAnswer | None,
    stats_after: StatsAnswer | None,
    final: GeneratorReport | None,
) -> list[InvariantResult]:
    """Both checks; none when the run ended too early to compare anything, or the target's
    /v1/stats is not the engine's (see models.engine_stats.shape_problem)."""
    before, after = counters(stats_before), counters(stats_after)
    if before is None or after is None or final is None:
        return []
    return [check(before, after, final) for check in (acked_equals_persisted, claims_exactly_once)]
