"""A comparison of sides (configs) as plain data: every candidate against the first side."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from veltrix_bench.analysis.compare import (
    COMPARED,
    DEFAULT_THRESHOLD,
    MetricComparison,
    compare_sides,
    headline,
)
from veltrix_bench.analysis.histograms import merged_log, spectrum
from veltrix_bench.hdr import new_histogram
from veltrix_bench.models.comparison import (
    SCHEMA,
    CandidateComparison,
    ComparedSide,
    Comparison,
    MetricRow,
)
from veltrix_bench.models.summary import Trial

HEADLINE_METRIC = "p99"
ROW_FIELDS = frozenset(MetricRow.__struct_fields__)


@dataclass(frozen=True)
class Side:
    """One config under comparison, the trials it completed, and their run directories."""

    name: str
    trials: list[Trial]
    run_dirs: list[Path]

    @property
    def latency_trials(self) -> int:
        return sum(1 for trial in self.trials if not trial.summary.profiled)


def build_comparison(
    sides: list[Side], scenario: str, thresholds: dict[str, float] | None = None
) -> Comparison:
    baseline = sides[0]
    pairs = []
    for candidate in sides[1:]:
        rows = compare_sides(baseline.trials, candidate.trials, thresholds, COMPARED)
        by_name = {row.metric: row for row in rows}
        trials = (baseline.latency_trials, candidate.latency_trials)
        pairs.append(
            CandidateComparison(
                baseline=baseline.name,
                candidate=candidate.name,
                headline=headline(baseline.name, candidate.name, by_name[HEADLINE_METRIC], trials),
                metrics=[_row(row) for row in rows],
            )
        )
    return Comparison(
        schema=SCHEMA,
        scenario=scenario,
        default_threshold=DEFAULT_THRESHOLD,
        thresholds=thresholds or {},
        sides=[
            ComparedSide(
                name=side.name,
                trials=len(side.trials),
                latency_trials=side.latency_trials,
                run_dirs=[str(p) for p in side.run_dirs],
                lost_events=_lost_events(side.trials),
            )
            for side in sides
        ],
        comparisons=pairs,
    )


def _row(row: MetricComparison) -> MetricRow:
    """comparison.json's row: the figures, not the rounds behind them (their trials are listed)."""
    figures = {name: value for name, value in asdict(row).items() if name in ROW_FIELDS}
    return MetricRow(**figures, improvement=row.improvement)


def _lost_events(trials: list[Trial]) -> int:
    """Trials whose acknowledged events were not all persisted (0 when none)."""
    return sum(1 for t in trials if not t.summary.invariants.get("acked_equals_persisted"))


def side_spectra(sides: list[Side]) -> dict[str, list[tuple[float, float]]]:
    """One intended-time latency spectrum per side, from all its unprofiled trials' histograms."""
    spectra = {}
    for side in sides:
        total = new_histogram()
        for run_dir, trial in zip(side.run_dirs, side.trials, strict=True):
            if not trial.summary.profiled:
                merged_log(Path(run_dir) / "latency.hlog", into=total)
        spectra[side.name] = spectrum(total)
    return spectra
