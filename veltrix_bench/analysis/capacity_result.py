"""A capacity search as capacity.json: trials, steps and each config's answer, in words too.

Pure functions from what the search recorded to the typed result (models.capacity); the
headline says the answer first, and a lower bound is always said as one.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from veltrix_bench.analysis.capacity import (
    CapacitySearch,
    Limit,
    TrialVerdict,
    Verdict,
    achieved_ratio,
)
from veltrix_bench.models.capacity import CapacityStep, CapacityTrial, ConfigCapacity
from veltrix_bench.models.summary import Summary

MORE_GENERATOR = "add --processes or a worker"


def capacity_trial(
    summary: Summary, run_dir: str, judged: TrialVerdict, order: int
) -> CapacityTrial:
    achieved = achieved_ratio(summary)
    return CapacityTrial(
        run_dir=run_dir,
        verdict=judged.verdict.value,
        reasons=list(judged.reasons),
        order=order,
        p50_ms=summary.latency_ms.p50,
        p99_ms=summary.latency_ms.p99,
        achieved_ratio=None if achieved is None else round(achieved, 4),
        error_rate=summary.requests.error_rate,
        engine_cpu_us_per_event=summary.engine.cpu_us_per_event,
        max_queue_depth=summary.engine.max_queue_depth,
    )


def _median(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 4) if present else None


def capacity_step(
    round_: int, rate: float, verdict: Verdict, trials: list[CapacityTrial]
) -> CapacityStep:
    return CapacityStep(
        round=round_,
        rate=rate,
        verdict=verdict.value,
        trials=trials,
        p50_ms=_median([t.p50_ms for t in trials]),
        p99_ms=_median([t.p99_ms for t in trials]),
        achieved_ratio=_median([t.achieved_ratio for t in trials]),
        engine_cpu_us_per_event=_median([t.engine_cpu_us_per_event for t in trials]),
        max_queue_depth=_median([t.max_queue_depth for t in trials]),
    )


def per_second(rate: float | None) -> str:
    """4,000/s; 12.5/s; a dash for no rate."""
    if rate is None:
        return "–"
    return f"{rate:,.0f}/s" if rate >= 100 else f"{rate:,.3g}/s"


def limit_cause(name: str, search: CapacitySearch) -> str:
    """What the search's answer is, and what stopped it, in one sentence."""
    passed, failed, ceiling = search.passed, search.failed, search.ceiling
    if search.limit is Limit.ENGINE:
        return (
            f"the engine: it passed at {per_second(passed)} and failed at {per_second(failed)} "
            f"(within {search.resolution:.0%})"
        )
    if search.limit is Limit.GENERATOR and passed is not None:
        return (
            f"the load generator, not the engine, stopped the search at {per_second(ceiling)}: "
            f"{name} sustains at least {per_second(passed)} — {MORE_GENERATOR}"
        )
    if search.limit is Limit.GENERATOR:
        return f"the load generator could not drive even {per_second(ceiling)} — {MORE_GENERATOR}"
    if search.limit is Limit.MAX_RATE:
        return f"--max-rate: it passed at {per_second(passed)}, the highest rate allowed"
    if search.limit is Limit.BELOW_START:
        return f"it failed at every rate tried, down to {per_second(failed)}"
    return "the search was stopped before it had an answer"


def config_capacity(
    name: str,
    config: str,
    engine: str | None,
    search: CapacitySearch,
    steps: list[CapacityStep],
) -> ConfigCapacity:
    return ConfigCapacity(
        name=name,
        config=config,
        engine=engine,
        capacity=search.capacity,
        lower_bound=search.is_lower_bound,
        limit=search.limit.value if search.limit is not None else None,
        lowest_failed=search.failed,
        generator_ceiling=search.ceiling,
        limit_cause=limit_cause(name, search),
        steps=steps,
    )


def _sustains(config: ConfigCapacity) -> str:
    if config.capacity is None:
        return "sustains none of the rates tried"
    return f"sustains {'at least ' if config.lower_bound else ''}{per_second(config.capacity)}"


def _rate_of(config: ConfigCapacity) -> str:
    if config.capacity is None:
        return "none"
    return f"{'at least ' if config.lower_bound else ''}{per_second(config.capacity)}"


def _ratio(best: ConfigCapacity, other: ConfigCapacity) -> str | None:
    """best / other, qualified by which of the two is only a lower bound."""
    if best.capacity is None or not other.capacity or (best.lower_bound and other.lower_bound):
        return None
    ratio = best.capacity / other.capacity
    shown = f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"
    if best.lower_bound:
        return f"at least {shown}"
    return f"at most {shown}" if other.lower_bound else shown


def headline(configs: Sequence[ConfigCapacity], slos: Sequence[str]) -> str:
    """'tuned sustains 4,000/s at p99 < 50ms vs 250/s for default — 16x', the best first."""
    ranked = sorted(configs, key=lambda c: c.capacity or 0.0, reverse=True)
    best, others = ranked[0], ranked[1:]
    text = f"{best.name} {_sustains(best)} at {' and '.join(slos)}"
    if len(others) == 1:
        other = others[0]
        ratio = _ratio(best, other)
        text += f" vs {_rate_of(other)} for {other.name}" + (f" — {ratio}" if ratio else "")
    elif others:
        parts = []
        for other in others:
            ratio = _ratio(best, other)
            parts.append(f"{_rate_of(other)} for {other.name}" + (f" ({ratio})" if ratio else ""))
        text += " vs " + ", ".join(parts[:-1]) + f" and {parts[-1]}"
    limited = [c.name for c in configs if c.limit == Limit.GENERATOR.value]
    if limited:
        which = "" if len(configs) == 1 else f" for {' and '.join(limited)}"
        text += "; the load generator, not the engine, stopped the search"
        text += f"{which} — {MORE_GENERATOR}"
    return text
