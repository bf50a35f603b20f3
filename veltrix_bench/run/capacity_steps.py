"""Capacity searches step by step: in every round each config runs its own next rate, its
trials interleaved with the other configs' (the one that goes first rotating), each trial a
run of its own on a fresh engine and database (`orchestrator.execute`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console

from veltrix_bench.analysis.capacity import (
    CapacitySearch,
    TrialVerdict,
    step_verdict,
    trial_verdict,
)
from veltrix_bench.analysis.capacity_result import capacity_step, capacity_trial
from veltrix_bench.analysis.checks import Check
from veltrix_bench.errors import EXIT_INTERRUPTED, EXIT_OK, Interrupted, RunFailed
from veltrix_bench.models import run_record as status
from veltrix_bench.models.capacity import CapacityStep, CapacityTrial
from veltrix_bench.report.capacity_console import print_round, print_step, print_trial
from veltrix_bench.run.engine_launch import EngineCommand
from veltrix_bench.run.orchestrator import RunOptions, RunOutcome, execute
from veltrix_bench.run.trials import round_order
from veltrix_bench.rundir import read_record


@dataclass
class ConfigSearch:
    """One config's search and the steps it has run."""

    name: str  # its label ('tuned', 'tuned on engine.py', 'tuned (A)' for a side given twice)
    config: str
    search: CapacitySearch
    engine: EngineCommand | None = None  # None: the embedded reference engine
    steps: list[CapacityStep] = field(default_factory=list)

    @property
    def engine_description(self) -> str | None:
        return self.engine.description if self.engine is not None else None


@dataclass
class _Step:
    rate: float
    judged: list[TrialVerdict] = field(default_factory=list)
    trials: list[CapacityTrial] = field(default_factory=list)


def run_searches(
    sides: list[ConfigSearch],
    base: RunOptions,
    slos: list[Check],
    trials: int,
    out_dir: Path,
    console: Console,
) -> None:
    """Round after round until every search has its answer (`sides` are updated as it goes).

    Ctrl-C raises Interrupted and a run that failed for another reason than the engine
    (the generator, an unreachable target) raises RunFailed: the steps run so far stay in
    `sides` either way, for the caller to write.
    """
    trial_dir = out_dir / "trials"
    trial_round = 0
    round_number = 0
    while active := [side for side in sides if not side.search.done]:
        round_number += 1
        steps = {side.name: _Step(_next_rate(side.search)) for side in active}
        print_round(console, round_number, [(side.name, steps[side.name].rate) for side in active])
        for _ in range(trials):
            undecided = [s for s in active if step_verdict(steps[s.name].judged, trials) is None]
            if not undecided:
                break
            for order, side in enumerate(round_order(undecided, trial_round)):
                step = steps[side.name]
                options = replace(
                    base, config=side.config, engine=side.engine, rate=step.rate, out=trial_dir
                )
                outcome = execute(options, console)
                judged = _judge(outcome, slos, side.name, step.rate)
                _drop_database(outcome.run_dir.path)
                step.judged.append(judged)
                run_dir = str(outcome.run_dir.path)
                step.trials.append(capacity_trial(outcome.summary, run_dir, judged, order))
                print_trial(console, side.name, step.rate, len(step.judged), step.trials[-1])
            trial_round += 1
        for side in active:
            step = steps[side.name]
            verdict = step_verdict(step.judged, trials)
            assert verdict is not None, "every planned trial ran: the majority is decided"
            side.search.record(step.rate, verdict)
            side.steps.append(capacity_step(round_number, step.rate, verdict, step.trials))
            print_step(console, side.name, side.steps[-1])


DATABASE_FILES = ("engine.db", "engine.db-wal", "engine.db-shm")
"""A trial's SQLite files, removed once it is judged: ~10 MB a trial near 4,000/s, dozens of
trials a search, and its run.json keeps what the engine acknowledged and persisted."""


def _drop_database(run_dir: Path) -> None:
    for name in DATABASE_FILES:
        (run_dir / name).unlink(missing_ok=True)


def _next_rate(search: CapacitySearch) -> float:
    rate = search.next_rate()
    assert rate is not None, "a search that is not done has a next rate"
    return rate


def _judge(outcome: RunOutcome, slos: list[Check], name: str, rate: float) -> TrialVerdict:
    """The trial's verdict; a run that says nothing about the engine ends the search."""
    summary = outcome.summary
    if outcome.exit_code == EXIT_INTERRUPTED:
        raise Interrupted("capacity search interrupted; what was measured so far is written")
    if outcome.engine_did_not_start:  # it would not start at the next step either
        raise RunFailed(f"{name}: {outcome.message}")
    engine_failed = summary.status == status.ENGINE_DIED or summary.broken_invariants
    if outcome.exit_code != EXIT_OK and not engine_failed:
        raise RunFailed(
            f"{name} at {rate:,.0f}/s: the run failed: {outcome.message} "
            f"(see {outcome.run_dir.path})"
        )
    final = read_record(outcome.run_dir.path).final
    unanswered = final.unanswered if final is not None else 0
    return trial_verdict(summary, slos, unanswered)
