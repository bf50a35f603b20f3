"""Which engine each side runs, from the options every command spells the same way: the
embedded engine, `--engine-cmd` commands, or revisions of the engine's code.

compare's sides are positional, and so are its commands: one `--engine-cmd` serves every
side, or one per side in order; one config likewise serves every side. A gate names its two
sides, and so do its options (`--baseline-cmd`, `--candidate-ref`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from veltrix_bench.commands.options import duration_option
from veltrix_bench.errors import UsageError
from veltrix_bench.run.engine_launch import EngineCommand, EngineSpec
from veltrix_bench.run.orchestrator import READY_TIMEOUT_S
from veltrix_bench.run.revisions import (
    checkout,
    default_cache_dir,
    repository,
    working_tree,
)

MAX_ENGINE_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class EngineOptions:
    commands: list[str] = field(default_factory=list)  # --engine-cmd, in order
    baseline_ref: str | None = None
    candidate_ref: str | None = None  # None with a baseline ref: the working tree
    cache_dir: Path | None = None
    timeout: str | None = None  # --engine-timeout
    native: bool = False  # CPU profiles of the engine sample its C frames too

    @property
    def by_revision(self) -> bool:
        return self.baseline_ref is not None or self.candidate_ref is not None

    def timeout_s(self) -> float:
        """Seconds an engine has to print its ready line; UsageError when out of bounds."""
        seconds = duration_option(self.timeout, "--engine-timeout")
        if seconds is None:
            return READY_TIMEOUT_S
        if not 0 < seconds <= MAX_ENGINE_TIMEOUT_S:
            raise UsageError(
                f"--engine-timeout {self.timeout}: expected more than 0 s, at most 1 h"
            )
        return seconds


def run_engine(options: EngineOptions) -> EngineCommand | None:
    """`vbench run`'s engine: at most one command, no revisions."""
    if len(options.commands) > 1:
        raise UsageError("run starts one engine: give --engine-cmd once")
    if options.by_revision:
        raise UsageError("--baseline-ref and --candidate-ref are for compare and gate")
    return EngineCommand.parse(options.commands[0]) if options.commands else None


def compare_engines(
    configs: list[str], options: EngineOptions, console: Console, fewest: int = 2
) -> list[EngineSpec]:
    """The sides of `vbench compare CONFIG... [--engine-cmd CMD]... [--baseline-ref REF]`
    (`vbench capacity` spells its sides the same way, and one side is enough: `fewest` 1)."""
    configs = configs or ["default"]
    commands = [EngineCommand.parse(text) for text in options.commands]
    if options.by_revision:
        if commands:
            raise UsageError("give --engine-cmd or --baseline-ref, not both")
        if len(configs) > 2:
            raise UsageError("a comparison of revisions has two sides: give one or two configs")
        baseline, candidate = _revisions(options, console)
        commands = [baseline, candidate]
    count = max(len(configs), len(commands))
    for what, given in (("configs", configs), ("--engine-cmd", commands)):
        if len(given) not in (0, 1, count):
            raise UsageError(
                f"{len(given)} {what} for {count} sides: give one for every side, or one per side"
            )
    if count < fewest:
        raise UsageError("compare needs at least two sides: configs, engine commands or revisions")
    return [
        _side(configs[i % len(configs)], commands[i % len(commands)] if commands else None)
        for i in range(count)
    ]


@dataclass(frozen=True)
class GateEngines:
    """What a gate's options say about its two sides' engines."""

    config: str = "default"  # of both sides, unless --baseline/--candidate name configs
    baseline_cmd: str | None = None
    candidate_cmd: str | None = None
    common: EngineOptions = field(default_factory=EngineOptions)
    """--engine-cmd (both sides), the revisions, the cache and the start-up timeout."""

    @property
    def given(self) -> bool:
        """Any engine was named: the gate runs trials of these engines."""
        own = self.baseline_cmd is not None or self.candidate_cmd is not None
        return own or bool(self.common.commands) or self.common.by_revision


def gate_engines(
    engines: GateEngines, baseline: str | None, candidate: str | None, console: Console
) -> tuple[EngineSpec, EngineSpec]:
    """The gate's baseline and candidate; `baseline`/`candidate` are configs (or None)."""
    common = engines.common
    if len(common.commands) > 1:
        raise UsageError("--engine-cmd serves both sides of a gate: give it once")
    shared = common.commands[0] if common.commands else None
    base_engine: EngineCommand | None
    cand_engine: EngineCommand | None
    if common.by_revision:
        if shared or engines.baseline_cmd or engines.candidate_cmd:
            raise UsageError("give engine commands or revisions, not both")
        base_engine, cand_engine = _revisions(common, console)
    else:
        base_engine = _command(engines.baseline_cmd, "--baseline-cmd", shared)
        cand_engine = _command(engines.candidate_cmd, "--candidate-cmd", shared)
    return (
        _side(baseline or engines.config, base_engine),
        _side(candidate or engines.config, cand_engine),
    )


def _command(own: str | None, option: str, shared: str | None) -> EngineCommand | None:
    """A side's own command, else the one both sides share, else None (the embedded engine)."""
    if own is not None:
        return EngineCommand.parse(own, option)
    return EngineCommand.parse(shared) if shared is not None else None


def _revisions(options: EngineOptions, console: Console) -> tuple[EngineCommand, EngineCommand]:
    """The baseline revision and the candidate (another revision, or the working tree)."""
    if options.baseline_ref is None:
        raise UsageError("--candidate-ref needs --baseline-ref")
    repo = repository(Path.cwd(), "--baseline-ref")
    cache = options.cache_dir or default_cache_dir()
    baseline = checkout(repo, options.baseline_ref, "--baseline-ref", cache, console)
    if options.candidate_ref is None:
        candidate = working_tree(repo, cache, console)
    else:
        candidate = checkout(repo, options.candidate_ref, "--candidate-ref", cache, console)
    return baseline.engine(), candidate.engine()


def _side(config: str, command: EngineCommand | None) -> EngineSpec:
    """A side named by its config, and by what serves it when that is not the embedded engine:
    `tuned`, `tuned on engine.py`, `tuned on origin/main@3f2a1b4c5d6e`."""
    spec = EngineSpec(config, command)
    if command is None:
        return spec
    return EngineSpec(config, command, f"{spec.config_name} on {command.label}")
