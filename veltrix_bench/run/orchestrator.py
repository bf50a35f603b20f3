"""One run end to end: engine, load generator, monitor, live view, then the run directory."""

from __future__ import annotations

import csv
import json
import queue
import secrets
import shutil
import signal
import threading
import time
import urllib.error
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any

import msgspec
from rich.console import Console

from veltrix_bench.engine.config import config_source, load_config
from veltrix_bench.engine.process import EngineProcess, start_engine
from veltrix_bench.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, RunFailed
from veltrix_bench.load.protocol import Error, Final, Ready, Tick
from veltrix_bench.load.scenario import Scenario, load_scenario
from veltrix_bench.profile import ProfileSession
from veltrix_bench.run.generator_process import GeneratorProcess
from veltrix_bench.run.live import LiveView
from veltrix_bench.run.monitor import EngineMonitor, EngineSample, fetch_json
from veltrix_bench.run.rundir import RunDir, new_run_dir
from veltrix_bench.run.target import check_target

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 4.0  # generator and engine each get this long after a stop request
POLL_S = 0.2
SETTLE_TIMEOUT_S = 15.0

TIMESERIES_COLUMNS = (
    "t", "requests", "ok", "errors", "rejected", "target_rate", "in_flight", "late_cap",
    "late_generator", "p50_ms", "p90_ms", "p99_ms", "service_p50_ms", "service_p99_ms",
    "queue_depth", "engine_rss_mb",
)  # fmt: skip


@dataclass(frozen=True)
class RunOptions:
    scenario: str = "smoke"
    config: str = "default"
    rate: float | None = None
    users: int | None = None
    duration_s: float | None = None
    target: str | None = None
    allow_remote: bool = False
    out: Path = Path("reports")
    seed: int | None = None
    profile: tuple[str, ...] | None = None  # "memory", "cpu"; None: the scenario's `profile`
    handler: str | None = None  # regex naming a foreign engine's handler functions
    profile_pid: int | None = None  # the pid to profile behind --target
    processes: int = 1  # >1: Locust's master plus that many local workers
    expect_workers: int = 0  # workers from elsewhere (`vbench worker`) the master waits for
    master_bind: str = "127.0.0.1"
    master_port: int | None = None  # None: 5557 when workers come from elsewhere, else any free
    worker_timeout_s: float = 60.0
    on_worker_loss: str = "fail"  # or "continue"


@dataclass(frozen=True)
class RunOutcome:
    run_dir: RunDir
    exit_code: int
    message: str
    invariants_not_applicable: str | None = None
    """Why the engine invariants cannot be judged in this run (None: they can)."""


class StopSignal:
    """SIGINT/SIGTERM while a run is under way: remembered, acted on by the main loop."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignal:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        self.event.set()

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def prepare(options: RunOptions) -> tuple[Scenario, str | None]:
    """Validate everything the user gave before anything starts (exit 2 on a problem)."""
    scenario = load_scenario(options.scenario)
    target = check_target(options.target, options.allow_remote) if options.target else None
    if target is None:
        load_config(options.config)
    scenario.to_load_spec(
        "http://127.0.0.1:1",
        Path("."),
        rate=options.rate,
        users=options.users,
        duration_s=options.duration_s,
        seed=options.seed,
        run_tag="check",
    )
    return scenario, target


def execute(options: RunOptions, console: Console) -> RunOutcome:
    scenario, target = prepare(options)
    config_name = "external" if target else Path(options.config).stem
    run_dir = new_run_dir(options.out, scenario.name, config_name)
    with StopSignal() as stop:
        run = _Run(options, scenario, target, run_dir, console, stop)
        return run.execute()


class _Run:
    def __init__(
        self,
        options: RunOptions,
        scenario: Scenario,
        target: str | None,
        run_dir: RunDir,
        console: Console,
        stop: StopSignal,
    ) -> None:
        self.options = options
        self.scenario = scenario
        self.target = target
        self.run_dir = run_dir
        self.console = console
        self.stop = stop
        self.engine: EngineProcess | None = None
        self.generator: GeneratorProcess | None = None
        self.monitor: EngineMonitor | None = None
        self.ticks: list[tuple[Tick, EngineSample | None]] = []
        self.final: Final | None = None
        self.status = "complete"
        self.detail = ""
        self.warnings: list[str] = []
        self.record: dict[str, Any] = {}
        kinds = scenario.profile if options.profile is None else options.profile
        self.session = ProfileSession(run_dir.path, kinds, options.handler) if kinds else None

    # -- the run ---------------------------------------------------------------------------
    def execute(self) -> RunOutcome:
        try:
            self._start_and_load()
        except RunFailed as failure:
            self._fail("failed", failure.message)
        finally:
            self._stop_children()
            self._write_record()
        return self._outcome()

    def _fail(self, status: str, detail: str) -> None:
        if self.status == "complete":
            self.status, self.detail = status, detail

    def _start_and_load(self) -> None:
        base_url = self._start_engine()
        custom = self.scenario.locustfile is not None
        if custom:
            # the user's own traffic, maybe against another service: nothing to compare
            self.record["invariants_not_applicable"] = (
                "custom locustfile: the generator does not know what the target acknowledged"
            )
        self.record["stats_before"] = None if custom else self._stats(base_url, required=True)
        if self.session is not None:
            if self.engine is None:
                self.session.skip("memory", "memory profiling needs the embedded engine")
            self.session.begin_window(self.engine.pid if self.engine else self.options.profile_pid)
        spec = self.scenario.to_load_spec(
            base_url,
            self.run_dir.path,
            rate=self.options.rate,
            users=self.options.users,
            duration_s=self.options.duration_s,
            seed=self.options.seed,
            run_tag=f"{self.run_dir.run_id[:15]}-{secrets.token_hex(3)}",
        )
        options = self.options
        spec = replace(
            spec,
            processes=options.processes,
            expect_workers=options.expect_workers,
            master_bind=options.master_bind,
            master_port=(
                options.master_port
                if options.master_port is not None
                else (5557 if options.expect_workers else 0)
            ),
            worker_timeout_s=options.worker_timeout_s,
            on_worker_loss="continue" if options.on_worker_loss == "continue" else "fail",
        )
        self.record["load"] = {
            "model": spec.model,
            "target_rate": max(rate for _, rate in spec.stages) if spec.model == "open" else None,
            "stages": [list(stage) for stage in spec.stages] if spec.model == "open" else None,
            "users": spec.max_in_flight if spec.model == "open" else spec.users,
            "processes": spec.workers if spec.distributed else 1,
            "duration_s": spec.duration_s,
        }
        spec_path = self.run_dir.file("load-spec.json")
        spec_path.write_text(spec.to_json())
        memory_profiled = self.session is not None and self.session.active("memory")
        # each /metrics poll allocates too: poll less while allocations are counted
        self.monitor = EngineMonitor(base_url, interval=5.0 if memory_profiled else 1.0)
        self.monitor.start()
        self.generator = GeneratorProcess(spec_path, self.run_dir.load_log)
        title = f"{self.scenario.name} on {self.record['config']}"
        with LiveView(self.console, title, spec.duration_s) as view:
            view.status("spawning users")
            self._follow_generator(view)
        if self.stop.event.is_set():
            self._fail("interrupted", "stopped by a signal; partial results written")
        self.record["stats_after"] = None if custom else self._settled_stats(base_url)
        if self.session is not None:
            self.session.end_window()

    def _start_engine(self) -> str:
        if self.target is not None:
            self.record["config"] = "external"
            return self.target
        config = load_config(self.options.config).with_overrides(
            world=self.scenario.world.model_dump()
        )
        self.record["config"] = config.name
        config_file = self.run_dir.file("engine-config.toml")
        config_file.write_text(config.to_toml())
        shutil.copy(config_source(self.options.config), self.run_dir.file("engine-preset.toml"))
        wrapper = self.session.engine_wrapper() if self.session is not None else None
        self.engine = start_engine(
            config_file, self.run_dir.file("engine.db"), self.run_dir.engine_log, wrapper=wrapper
        )
        return self.engine.url

    def _stats(self, base_url: str, required: bool) -> dict[str, Any] | None:
        try:
            return dict(fetch_json(f"{base_url}/v1/stats"))
        except (OSError, ValueError, urllib.error.URLError) as exc:
            if required:
                raise RunFailed(f"target {base_url} is unreachable: {exc}") from None
            return None

    def _settled_stats(self, base_url: str) -> dict[str, Any] | None:
        """Stats once the engine has answered everything it took in (acknowledged and
        persisted only agree when nothing is in flight); the last ones read if it never does."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        stats = self._stats(base_url, required=False)
        while stats is not None and time.monotonic() < deadline:
            if not stats.get("requests_in_flight") and not stats.get("queue_depth"):
                return stats
            time.sleep(0.1)
            stats = self._stats(base_url, required=False)
        if stats is not None:
            self.warnings.append(
                f"engine still had work in flight {SETTLE_TIMEOUT_S:.0f} s after the load ended"
            )
        return stats

    def _follow_generator(self, view: LiveView) -> None:
        assert self.generator is not None and self.monitor is not None
        stop_sent_at: float | None = None
        while True:
            if stop_sent_at is None and self._should_stop():
                self.generator.interrupt()
                stop_sent_at = time.monotonic()
                view.status("stopping: writing what was measured")
            if stop_sent_at is not None and time.monotonic() - stop_sent_at > STOP_GRACE_S:
                self.warnings.append("load generator did not stop in time and was killed")
                return
            try:
                line = self.generator.lines.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if line is None:
                if self.final is None and stop_sent_at is None:
                    self._fail("failed", "load generator exited without a result (see load.log)")
                return
            if isinstance(line, Ready):
                view.status("load running")
            elif isinstance(line, Tick):
                sample = self.monitor.latest()
                self.ticks.append((line, sample))
                behind = line.late_generator > max(1.0, 0.01 * (line.target_rate or 0))
                view.update(line, sample, behind)
            elif isinstance(line, Final):
                self.final = line
                if line.lost_workers:
                    self.warnings += [f"load generator {lost}" for lost in line.lost_workers]
                    self.record["invariants_not_applicable"] = (
                        "a load generator worker was lost: what it saw acknowledged is unknown"
                    )
            elif isinstance(line, Error):
                self._fail("failed", f"load generator: {line.message}")

    def _should_stop(self) -> bool:
        if self.stop.event.is_set():
            return True
        if self.engine is not None and not self.engine.alive():
            tail = "\n".join(self.engine.last_log_lines(8))
            self._fail("engine_died", f"engine exited (code {self.engine.process.returncode}) "
                       f"mid-run; its last log lines:\n{tail}")  # fmt: skip
            return True
        return False

    def _stop_children(self) -> None:
        if self.generator is not None:
            if self.generator.alive():
                self.generator.interrupt()
            self.generator.wait(STOP_GRACE_S)
        if self.monitor is not None:
            self.monitor.stop()
        if self.session is not None:
            self.session.end_window()
        if self.engine is not None:
            code = self.engine.stop(timeout=STOP_GRACE_S * 2)
            if code not in (0, None) and self.status == "complete":
                self.warnings.append(f"engine exited with code {code} on shutdown")

    # -- the run directory -----------------------------------------------------------------
    def _profile_blocks(self) -> dict[str, Any]:
        if self.session is None:
            return {"memory": None, "cpu": None, "profiles_skipped": {}}
        self.console.print("vbench: rendering profiles")
        before, after = self.record.get("stats_before"), self.record.get("stats_after")
        acked = None
        if before is not None and after is not None:
            acked = sum(after["acknowledged"].values()) - sum(before["acknowledged"].values())
        blocks = self.session.finish(acked).summary_blocks()
        for kind, reason in blocks["profiles_skipped"].items():
            self.console.print(f"[yellow]vbench: {kind} profile skipped: {reason}[/]")
        return blocks

    def _write_record(self) -> None:
        self._write_timeseries()
        blocks = self._profile_blocks()
        record = {
            "run_id": self.run_dir.run_id,
            "started_at": self.record.get("started_at")
            or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._window_start())),
            "status": self.status,
            "status_detail": self.detail,
            "scenario": self.scenario.name,
            "scenario_description": self.scenario.description,
            "config": self.record.get("config", self.options.config),
            "target": self.target or (self.engine.url if self.engine else None),
            "embedded_engine": self.target is None,
            "profiled": self.session is not None,
            "profile_requested": list(self.session.kinds) if self.session else [],
            **blocks,
            "load": self.record.get("load") or _planned_load(self.scenario),
            "stats_before": self.record.get("stats_before"),
            "stats_after": self.record.get("stats_after"),
            "final": msgspec.to_builtins(self.final) if self.final else None,
            "invariants_not_applicable": self.record.get("invariants_not_applicable"),
            "warnings": self.warnings,
            "thresholds": list(self.scenario.thresholds.checks),
        }
        self.run_dir.file("run.json").write_text(json.dumps(record, indent=2) + "\n")
        self.run_dir.file("scenario.json").write_text(self.scenario.model_dump_json(indent=2))

    def _window_start(self) -> float:
        return self.final.load_window.start if self.final else time.time()

    def _write_timeseries(self) -> None:
        with self.run_dir.timeseries.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(TIMESERIES_COLUMNS)
            for tick, sample in self.ticks:
                values = msgspec.structs.asdict(tick)
                values["queue_depth"] = sample.queue_depth if sample else None
                values["engine_rss_mb"] = (
                    round(sample.rss_mb, 1) if sample and sample.rss_mb else None
                )
                writer.writerow(
                    ["" if values[c] is None else values[c] for c in TIMESERIES_COLUMNS]
                )

    def _outcome(self) -> RunOutcome:
        if self.status == "interrupted":
            return RunOutcome(self.run_dir, EXIT_INTERRUPTED, self.detail)
        not_applicable = self.record.get("invariants_not_applicable")
        if self.status != "complete":
            return RunOutcome(self.run_dir, EXIT_RUN_FAILED, self.detail, not_applicable)
        return RunOutcome(self.run_dir, EXIT_OK, "", not_applicable)


def _planned_load(scenario: Scenario) -> dict[str, Any]:
    load = scenario.load
    return {
        "model": load.model,
        "target_rate": load.peak_rate,
        "stages": [list(s) for s in load.stage_list] if load.model == "open" else None,
        "users": load.max_in_flight if load.model == "open" else load.users,
        "processes": 1,
        "duration_s": load.total_duration_s,
    }
