"""`vbench run`: one run of a scenario against the embedded engine or a target, optionally gated
by the scenario's thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from veltrix_bench.commands.engines import EngineOptions, run_engine
from veltrix_bench.commands.gate import GateOutcome, gate_a_run
from veltrix_bench.commands.options import (
    checks_option,
    choice_option,
    duration_option,
    profile_option,
)
from veltrix_bench.errors import EXIT_OK
from veltrix_bench.load.scenario import load_scenario
from veltrix_bench.run.orchestrator import RunOptions, RunOutcome, execute
from veltrix_bench.writable import writable_dir, writable_file


@dataclass(frozen=True)
class RunCommandOptions:
    scenario: str = "smoke"
    config: str = "default"
    rate: float | None = None
    users: int | None = None
    duration: str | None = None
    target: str | None = None
    allow_remote: bool = False
    out: Path = Path("reports")
    seed: int | None = None
    gate: bool = False
    junit: Path | None = None
    profile: str | None = None
    handler: str | None = None
    profile_pid: int | None = None
    processes: int = 1
    expect_workers: int = 0
    master_bind: str = "127.0.0.1"
    master_port: int | None = None
    worker_timeout: str = "60s"
    on_worker_loss: str = "fail"
    engines: EngineOptions = field(default_factory=EngineOptions)  # --engine-cmd, --native, ...


@dataclass(frozen=True)
class RunCommandOutcome:
    run: RunOutcome
    gate: GateOutcome | None
    exit_code: int


def run(options: RunCommandOptions, console: Console) -> RunCommandOutcome:
    """Every option is checked before anything starts; the run directory is always written."""
    run_options = RunOptions(
        scenario=options.scenario, config=options.config, rate=options.rate,
        users=options.users, duration_s=duration_option(options.duration, "--duration"),
        target=options.target, allow_remote=options.allow_remote, out=options.out,
        seed=options.seed, profile=profile_option(options.profile), handler=options.handler,
        profile_pid=options.profile_pid, processes=options.processes,
        expect_workers=options.expect_workers, master_bind=options.master_bind,
        master_port=options.master_port,
        worker_timeout_s=duration_option(options.worker_timeout, "--worker-timeout") or 0.0,
        on_worker_loss=choice_option(
            options.on_worker_loss, ("fail", "continue"), "--on-worker-loss"
        ),
        engine=run_engine(options.engines), engine_timeout_s=options.engines.timeout_s(),
        native=options.engines.native,
    )  # fmt: skip
    checks = []
    if options.gate:  # a malformed threshold is a usage error: say so before the load
        thresholds = load_scenario(options.scenario).thresholds.checks
        checks = checks_option(thresholds, "scenario thresholds")
    writable_dir(options.out, "--out")
    if options.junit is not None:
        writable_file(options.junit, "--junit")
    outcome = execute(run_options, console)
    if not options.gate or outcome.exit_code != EXIT_OK:
        return RunCommandOutcome(outcome, None, outcome.exit_code)
    verdict = gate_a_run(outcome.summary, outcome.run_dir.path, checks, options.junit)
    return RunCommandOutcome(outcome, verdict, verdict.exit_code)
