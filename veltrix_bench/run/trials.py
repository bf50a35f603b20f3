"""Interleaved trials for comparisons and gates: A B, B A, …, each with a fresh engine and file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.markup import escape

from veltrix_bench.analysis.comparison import Side
from veltrix_bench.errors import EXIT_INTERRUPTED, BadRunDir, Interrupted, RunFailed
from veltrix_bench.models.summary import Trial, TrialPlace
from veltrix_bench.run.engine_launch import EngineSpec
from veltrix_bench.run.orchestrator import RunOptions, execute
from veltrix_bench.rundir import COMPARISON, GATE, SUMMARY, read_comparison, read_summary

T = TypeVar("T")
TRIALS = "trials"  # the folder of a comparison's or gate's trial directories


def run_interleaved(
    engines: list[EngineSpec],
    base: RunOptions,
    trials: int,
    out_dir: Path,
    console: Console,
    profiled_trials: int = 0,
) -> list[Side]:
    """`trials` unprofiled rounds A B, B A, A B …, then `profiled_trials` rounds profiled for memory
    and as many for CPU (apart: py-spy under memray would sample memray's own overhead).

    A failed trial (engine died, invariant broken) is kept out of the statistics and said;
    an engine that does not start stops the comparison (RunFailed, exit 3): it would not
    start in the next round either. Ctrl-C stops it with what was measured so far.
    """
    trial_dir = out_dir / TRIALS
    labels = side_labels([engine.label for engine in engines])
    collected: dict[str, Side] = {label: Side(label, [], []) for label in labels}
    rounds: list[tuple[int, tuple[str, ...]]] = [(i, ()) for i in range(trials)]
    for i in range(profiled_trials):
        rounds += [(i, ("memory",)), (i, ("cpu",))]
    for number, (index, profile) in enumerate(rounds, start=1):
        order = round_order(list(enumerate(zip(engines, labels, strict=True))), number - 1)
        for position, (side_index, (engine, side)) in enumerate(order, start=1):
            label = f"{' '.join(profile)}{' profiled ' if profile else ''}trial {index + 1}"
            console.print(f"[bold]{escape(side)}[/] · {label} ({number}/{len(rounds)})")
            place = TrialPlace(
                round=index, profile=list(profile), position=position, side=side,
                side_index=side_index,
            )  # fmt: skip
            options = replace(
                base, config=engine.config, engine=engine.command, out=trial_dir, profile=profile,
                place=place,
            )  # fmt: skip
            outcome = execute(options, console)
            summary = outcome.summary
            if outcome.exit_code == EXIT_INTERRUPTED:
                raise Interrupted(f"comparison interrupted; trials so far are in {trial_dir}")
            if outcome.engine_did_not_start:
                raise RunFailed(f"{side}: {outcome.message}")
            if outcome.exit_code != 0:
                failure = escape(outcome.message)
                console.print(f"[yellow]  {escape(side)} {label} failed: {failure}[/]")
                continue
            collected[side].trials.append(Trial.finished(summary))
            collected[side].run_dirs.append(outcome.run_dir.path)
            console.print(f"  p99 {summary.latency_ms.p99} ms · "
                          f"{summary.requests.throughput_rps:,.0f} req/s")  # fmt: skip
    return [collected[label] for label in labels]


def round_order(sides: list[T], round_number: int) -> list[T]:
    """The sides rotated by one place each round (A B, B A, A B ... for two).

    Measured here with a fixed order: the side that ran second in every round was slower in
    all 5 rounds of an A/A test (p99.9 +8% to +29%), so a fixed order reads as a difference.
    """
    shift = round_number % len(sides)
    return sides[shift:] + sides[:shift]


def side_labels(names: list[str]) -> list[str]:
    """Names for the sides; the same name twice (an A/A test) becomes 'tuned (A)', 'tuned (B)'."""
    if len(set(names)) == len(names):
        return names
    return [f"{name} ({chr(ord('A') + i)})" for i, name in enumerate(names)]


def load_finished(run_dirs: list[Path]) -> list[Side]:
    """Finished run directories grouped by their config, in order of first appearance."""
    grouped: dict[str, Side] = {}
    for run_dir in run_dirs:
        summary = read_summary(run_dir)
        side = grouped.setdefault(summary.config, Side(summary.config, [], []))
        side.trials.append(Trial(summary))
        side.run_dirs.append(run_dir)
    return list(grouped.values())


def finished_trials(path: Path, side: str) -> list[Trial]:
    """The trial of a run directory, or the trials of one side ("baseline": the first, else
    the last) of a compare or gate directory, each in its round when it ran in one."""
    if (path / SUMMARY).exists():
        return [Trial.finished(read_summary(path))]
    if (path / COMPARISON).exists():
        sides = read_comparison(path).sides
        chosen = sides[0] if side == "baseline" else sides[-1]
        return [Trial.finished(read_summary(Path(run_dir))) for run_dir in chosen.run_dirs]
    if (path / GATE).exists() and (path / TRIALS).is_dir():
        return _gate_side(path, side)
    raise BadRunDir(f"{path}: neither a run directory nor a compare or gate directory")


def _gate_side(gate_dir: Path, side: str) -> list[Trial]:
    """A gate directory keeps no list of its sides: each trial's summary says its side."""
    trials = [
        Trial.finished(read_summary(summary.parent))
        for summary in sorted((gate_dir / TRIALS).glob(f"*/{SUMMARY}"))
    ]
    places = [t.summary.interleaved for t in trials]
    known = [place for place in places if isinstance(place, TrialPlace)]
    if not known or len(known) < len(places):
        raise BadRunDir(
            f"{gate_dir}: its trials do not say their side and round (a gate of an earlier "
            "vbench): they cannot be paired again"
        )
    wanted = 0 if side == "baseline" else max(place.side_index for place in known)
    return [
        trial
        for trial, place in zip(trials, known, strict=True)
        if place.side_index == wanted and _counted(trial)
    ]


def _counted(trial: Trial) -> bool:
    """What the gate counted when it ran: trials that completed with their invariants."""
    return trial.summary.complete and not trial.summary.broken_invariants
