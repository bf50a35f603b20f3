"""capacity.json (schema vbench.capacity/1): every step and trial of a capacity search, the
capacity each config sustains within its objectives, and what stopped each search."""

from __future__ import annotations

import msgspec

SCHEMA = "vbench.capacity/1"


class CapacityTrial(msgspec.Struct, frozen=True, kw_only=True):
    """One trial of a step: one run at the step's rate (its run directory holds the rest)."""

    run_dir: str
    verdict: str  # pass | fail | generator (the generator, not the engine, limited it)
    reasons: list[str]  # why it did not pass, one line each
    order: int  # its place in its round (0: it went first)
    p50_ms: float | None
    p99_ms: float | None
    achieved_ratio: float | None  # requests answered ok per request offered
    error_rate: float
    engine_cpu_us_per_event: float | None
    max_queue_depth: float | None


class CapacityStep(msgspec.Struct, frozen=True, kw_only=True):
    """One offered rate of one config's search: its trials and their majority verdict."""

    round: int  # the round of the search it ran in (every config runs one step per round)
    rate: float
    verdict: str  # pass | fail | generator
    trials: list[CapacityTrial]
    p50_ms: float | None  # medians over the trials that measured them
    p99_ms: float | None
    achieved_ratio: float | None
    engine_cpu_us_per_event: float | None
    max_queue_depth: float | None


class ConfigCapacity(msgspec.Struct, frozen=True, kw_only=True):
    """One config's answer: the highest rate that passed, and whether that is all it can take."""

    name: str  # its label in reports (a config given twice is 'tuned (A)', 'tuned (B)')
    config: str  # as given on the command line ("external" for --target)
    engine: str | None = None  # the command or revision serving it; None: the embedded engine
    capacity: float | None  # the highest rate that passed; None: none did
    lower_bound: bool  # the engine may sustain more: the generator or --max-rate stopped it
    limit: str | None  # engine | generator | max_rate | below_start; None: stopped early
    lowest_failed: float | None  # the lowest rate that failed (the bracket's top)
    generator_ceiling: float | None  # the lowest rate the generator could not drive
    limit_cause: str  # the answer in a sentence
    steps: list[CapacityStep]


class CapacitySettings(msgspec.Struct, frozen=True, kw_only=True):
    slos: list[str]
    scenario: str
    start: float
    max_rate: float | None
    step_s: float
    warmup_s: float
    drain_s: float
    trials: int  # planned per step; a step ends once its majority is certain
    resolution: float
    growth: float
    achieved_min: float
    target: str | None
    fresh_engine_per_step: bool  # False with --target: one engine, never restarted
    processes: int
    expect_workers: int


class CapacityResult(msgspec.Struct, frozen=True, kw_only=True):
    schema: str = SCHEMA
    started_at: str
    wall_s: float  # the whole search, start to the last report
    complete: bool  # every config's search reached its answer (not stopped early)
    headline: str
    notes: list[str]  # what a reader must know about how it was measured
    settings: CapacitySettings
    configs: list[ConfigCapacity]
