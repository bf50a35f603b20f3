"""One run end to end: engine, load generator, monitor, live view, then the run directory."""

from __future__ import annotations

import json
import queue
import secrets
import time
import urllib.error
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.markup import escape

from veltrix_bench.analysis.timeseries import TICK_COLUMNS, write_timeseries
from veltrix_bench.engine.config import load_config
from veltrix_bench.engine.process import EngineDidNotStart, EngineProcess
from veltrix_bench.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, RunFailed, UsageError
from veltrix_bench.load.bounds import check_generator_processes
from veltrix_bench.load.protocol import Error, Final, Ready, Tick
from veltrix_bench.load.scenario import Scenario, load_scenario
from veltrix_bench.load.spec import LoadSpec
from veltrix_bench.models import run_record as status
from veltrix_bench.models.documents import write_document
from veltrix_bench.models.engine_stats import StatsAnswer, events_between, shape_problem
from veltrix_bench.models.generator import GeneratorReport
from veltrix_bench.models.profiles import ProfileBlocks
from veltrix_bench.models.run_record import EngineWindow, PlannedLoad, RunRecord
from veltrix_bench.models.summary import Summary, TrialPlace
from veltrix_bench.profile import ProfileSession
from veltrix_bench.profile.handler import handler_matcher
from veltrix_bench.report import write_reports
from veltrix_bench.run.engine_launch import EngineCommand, launch_engine, write_side_config
from veltrix_bench.run.engine_window import EngineWindowProbe
from veltrix_bench.run.generator_process import GeneratorProcess
from veltrix_bench.run.live import LiveView
from veltrix_bench.run.monitor import EngineMonitor, EngineSample, fetch
from veltrix_bench.run.stop import StopSignal
from veltrix_bench.run.target import check_target, is_loopback
from veltrix_bench.rundir import RunDir, new_run_dir

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 4.0  # generator and engine each get this long after a stop request
POLL_S = 0.2
SETTLE_TIMEOUT_S = 15.0


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
    engine: EngineCommand | None = None  # None: the embedded reference engine
    engine_timeout_s: float = READY_TIMEOUT_S  # for its ready line
    native: bool = False  # py-spy samples C frames too
    place: TrialPlace | None = None  # an interleaved trial's round, position and side
    warmup_s: float | None = None  # None: the scenario's (open model)
    drain_s: float | None = None  # None: the scenario's
    report_html: bool = True  # False: summary.json and report.md only (`vbench report` adds it)
    live_transient: bool = False  # True: the live view leaves nothing behind once the run ends


@dataclass(frozen=True)
class RunOutcome:
    """One finished run: its directory (summary and reports written) and its verdict."""

    run_dir: RunDir
    summary: Summary
    exit_code: int
    message: str
    """Why the run failed or stopped ("" when it did neither)."""
    notices: tuple[str, ...] = ()
    """What the user must know about the figures (invariants not applicable, saturation)."""
    engine_did_not_start: bool = False


def prepare(options: RunOptions) -> tuple[Scenario, str | None]:
    """Validate everything the user gave before anything starts (exit 2 on a problem)."""
    scenario = load_scenario(options.scenario)
    target = check_target(options.target, options.allow_remote) if options.target else None
    if target is not None and options.engine is not None:
        raise UsageError("--target loads a running engine; --engine-cmd starts one: not both")
    if target is None:
        load_config(options.config)
    check_generator_processes(
        options.processes, options.expect_workers, options.master_bind, options.master_port
    )
    if options.expect_workers and target is None and not is_loopback(options.master_bind):
        raise UsageError(
            "--expect-workers with --master-bind: workers on other machines must reach the "
            "engine, and an engine vbench starts listens on 127.0.0.1; start one with `vbench "
            "engine serve --host ADDR --port P` and pass --target http://ADDR:P --allow-remote"
        )
    if options.handler is not None:  # read only when the profiles render, after the load
        handler_matcher(options.handler)
    load_spec(options, scenario, "http://127.0.0.1:1", Path("."), "check")
    return scenario, target


def load_spec(
    options: RunOptions, scenario: Scenario, base_url: str, out_dir: Path, run_tag: str
) -> LoadSpec:
    """The generator's spec: the scenario with the run's overrides and generator processes."""
    spec = scenario.to_load_spec(
        base_url,
        out_dir,
        rate=options.rate,
        users=options.users,
        duration_s=options.duration_s,
        seed=options.seed,
        run_tag=run_tag,
        warmup_s=options.warmup_s,
        # the users are spread over the generator processes, counted as LoadSpec.workers does
        generator_processes=max(
            1, (options.processes if options.processes > 1 else 0) + options.expect_workers
        ),
    )
    default_port = 5557 if options.expect_workers else 0
    return replace(
        spec,
        processes=options.processes,
        expect_workers=options.expect_workers,
        master_bind=options.master_bind,
        master_port=options.master_port if options.master_port is not None else default_port,
        worker_timeout_s=options.worker_timeout_s,
        on_worker_loss="continue" if options.on_worker_loss == "continue" else "fail",
        drain_s=spec.drain_s if options.drain_s is None else options.drain_s,
    )


def planned_load(spec: LoadSpec) -> PlannedLoad:
    open_model = spec.model == "open"
    return PlannedLoad(
        model=spec.model,
        target_rate=max(rate for _, rate in spec.stages) if open_model else None,
        stages=[list(stage) for stage in spec.stages] if open_model else None,
        users=spec.max_in_flight if open_model else spec.users,
        processes=spec.workers if spec.distributed else 1,
        duration_s=spec.duration_s,
        warmup_s=spec.warmup_s or msgspec.UNSET,
    )


def execute(options: RunOptions, console: Console) -> RunOutcome:
    """Run, then write the summary and reports; a signal at any moment, the reports included,
    stops the run early but never the writing of what was measured."""
    scenario, target = prepare(options)
    config_name = "external" if target else Path(options.config).stem
    run_dir = new_run_dir(options.out, scenario.name, config_name)
    with StopSignal() as stop:
        trial = _Run(options, scenario, target, run_dir, console, stop)
        trial.execute()
        # a summary of what was measured
        summary = write_reports(run_dir, lenient=True, html=options.report_html)
        outcome = _verdict(run_dir, summary, stop)
        return replace(outcome, engine_did_not_start=trial.engine_did_not_start)


def _verdict(run_dir: RunDir, summary: Summary, stop: StopSignal) -> RunOutcome:
    notices = []
    if summary.invariants_not_applicable:
        notices.append(f"engine invariants not applicable: {summary.invariants_not_applicable}")
    if summary.generator.saturated:
        notices.append("the load generator was saturated; figures are suspect")
    codes = {status.COMPLETE: EXIT_OK, status.INTERRUPTED: EXIT_INTERRUPTED}
    exit_code, detail = codes.get(summary.status, EXIT_RUN_FAILED), summary.status_detail
    broken = summary.broken_invariants
    if exit_code == EXIT_OK and broken:
        details = "; ".join(summary.invariant_details[name] for name in broken)
        exit_code, detail = EXIT_RUN_FAILED, f"invariant broken: {details}"
    if exit_code != EXIT_INTERRUPTED and stop.received:  # while the reports were written
        exit_code, detail = EXIT_INTERRUPTED, "stopped by a signal; every result was written"
    return RunOutcome(run_dir, summary, exit_code, detail, tuple(notices))


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
        run_tag = f"{run_dir.run_id[:15]}-{secrets.token_hex(3)}"
        self.spec = load_spec(
            options, scenario, target or "http://127.0.0.1:1", run_dir.path, run_tag
        )
        self.started_at = time.time()
        self.config_name = "external" if target else options.config
        self.engine: EngineProcess | None = None
        self.generator: GeneratorProcess | None = None
        self.monitor: EngineMonitor | None = None
        self.ticks: list[tuple[Tick, EngineSample | None]] = []
        self.final: Final | None = None
        self.status = status.COMPLETE
        self.detail = ""
        self.warnings: list[str] = []
        self.stats_before: StatsAnswer | None = None
        self.stats_after: StatsAnswer | None = None
        self.not_applicable: str | None = None
        self.engine_window: EngineWindowProbe | None = None
        self.engine_did_not_start = False
        kinds = scenario.profile if options.profile is None else options.profile
        self.session = (
            ProfileSession(run_dir.path, kinds, options.handler, options.native) if kinds else None
        )

    # -- the run ---------------------------------------------------------------------------
    def execute(self) -> RunRecord:
        """The run record, once run.json, timeseries.csv and the profiles are written."""
        # Until the run ends, run.json says it is running: a directory whose run was killed
        # says so itself.
        write_document(self.run_dir.record, self._record(status.RUNNING))
        try:
            self._start_and_load()
        except EngineDidNotStart as failure:
            self.engine_did_not_start = True
            self._fail(status.FAILED, failure.message)
        except RunFailed as failure:
            self._fail(status.FAILED, failure.message)
        except Exception as bug:  # not the user's doing: the record says so, the traceback too
            self._fail(status.FAILED, f"vbench failed: {type(bug).__name__}: {bug}")
            raise
        finally:
            self._stop_children()
            if self.stop.received:  # also a signal after the load, while children stop
                self._fail(status.INTERRUPTED, "stopped by a signal; partial results written")
            record = self._write_record()
        return record

    def _fail(self, kind: str, detail: str) -> None:
        if self.status == status.COMPLETE:
            self.status, self.detail = kind, detail

    def _not_applicable(self, reason: str) -> None:
        if self.not_applicable is None:
            self.not_applicable = reason

    def _start_and_load(self) -> None:
        # The generator imports gevent and Locust while the engine starts; its spec, which
        # names the engine's URL, follows once the engine is ready.
        self.generator = GeneratorProcess(self.run_dir.load_log)
        base_url = self._start_engine()
        if self.stop.received:
            return
        custom = self.scenario.locustfile is not None
        if custom:
            # the user's own traffic, maybe against another service: nothing to compare
            self._not_applicable(
                "custom locustfile: the generator does not know what the target acknowledged"
            )
        else:
            self.stats_before = self._stats(base_url, required=True)
        if self.session is not None:
            if self.engine is None:
                self.session.skip("memory", "memory profiling needs an engine vbench starts")
            self.session.begin_window(self.engine.pid if self.engine else self.options.profile_pid)
        spec = replace(self.spec, target=base_url.rstrip("/"))
        spec_path = self.run_dir.file("load-spec.json")
        spec_path.write_text(spec.to_json())
        memory_profiled = self.session is not None and self.session.active("memory")
        # each /metrics poll allocates too: poll less while allocations are counted
        self.monitor = EngineMonitor(base_url, interval=5.0 if memory_profiled else 1.0)
        engine_pid = self.engine.pid if self.engine else self.options.profile_pid
        self.engine_window = EngineWindowProbe(base_url, engine_pid)
        self.monitor.start()
        self.generator.load(spec_path)
        title = f"{self.scenario.name} on {self.config_name}"
        with LiveView(self.console, title, spec.duration_s, self.options.live_transient) as view:
            view.status("spawning users")
            self._follow_generator(view)
        if not custom:
            self.stats_after = self._settled_stats(base_url)
        if self.session is not None:
            self.session.end_window()

    def _start_engine(self) -> str:
        if self.target is not None:
            return self.target
        world = self.scenario.world.model_dump()
        config_file, self.config_name = write_side_config(
            self.options.config, world, self.options.engine, self.run_dir
        )
        self.engine = launch_engine(
            self.options.engine, self.run_dir, config_file, self.session,
            self.options.engine_timeout_s,
        )  # fmt: skip
        return self.engine.url

    def _stats(self, base_url: str, required: bool) -> StatsAnswer | None:
        """/v1/stats as the target answers it. A target that answers, but not with the embedded
        engine's counters, still gets a complete run: the invariants are then not applicable.
        One that does not answer at all is unreachable (RunFailed when `required`)."""
        url = f"{base_url}/v1/stats"
        try:
            body = fetch(url)
        except urllib.error.HTTPError as exc:
            self._not_applicable(f"the target answers {url} with HTTP {exc.code}")
            return None
        except (OSError, ValueError) as exc:  # ValueError: a URL http.client cannot use
            if required:
                raise RunFailed(f"target {base_url} is unreachable: {exc}") from None
            return None
        try:
            answer = json.loads(body)
        except ValueError:
            self._not_applicable(f"the target's {url} is not JSON")
            return None
        if not isinstance(answer, dict):
            self._not_applicable(f"the target's {url} is not a JSON object")
            return None
        problem = shape_problem(answer)
        if problem is not None:
            self._not_applicable(problem)
        return answer

    def _settled_stats(self, base_url: str) -> StatsAnswer | None:
        """Stats once the engine has answered everything it took in (acknowledged and
        persisted only agree when nothing is in flight); the last ones read if it never does."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        stats = self._stats(base_url, required=False)
        while stats is not None and time.monotonic() < deadline and not self.stop.received:
            if not stats.get("requests_in_flight") and not stats.get("queue_depth"):
                return stats
            time.sleep(0.1)
            stats = self._stats(base_url, required=False)
        if stats is not None and not self.stop.received:
            self.warnings.append(
                f"engine still had work in flight {SETTLE_TIMEOUT_S:.0f} s after the load ended"
            )
        return stats

    def _follow_generator(self, view: LiveView) -> None:
        assert self.generator is not None and self.monitor is not None
        assert self.engine_window is not None
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
                    self._fail(
                        status.FAILED, "load generator exited without a result (see load.log)"
                    )
                return
            if isinstance(line, Ready):
                self.engine_window.at_open()
                view.status("load running")
            elif isinstance(line, Tick):
                sample = self.monitor.latest()
                self.ticks.append((line, sample))
                behind = line.late_generator > max(1.0, 0.01 * (line.target_rate or 0))
                view.update(line, sample, behind)
            elif isinstance(line, Final):
                self.engine_window.at_close()
                self.final = line
                if line.lost_workers:
                    self.warnings += [f"load generator {lost}" for lost in line.lost_workers]
                    self._not_applicable(
                        "a load generator worker was lost: what it saw acknowledged is unknown"
                    )
            elif isinstance(line, Error):
                self._fail(status.FAILED, f"load generator: {line.message}")

    def _should_stop(self) -> bool:
        if self.stop.received:
            return True
        if self.engine is not None and not self.engine.alive():
            tail = "\n".join(self.engine.last_log_lines(8))
            self._fail(status.ENGINE_DIED, f"engine exited (code {self.engine.process.returncode}) "
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
            if self.monitor.unavailable:
                self.warnings.append(self.monitor.unavailable)
        if self.session is not None:
            self.session.end_window()
        if self.engine is not None:
            code = self.engine.stop(timeout=STOP_GRACE_S * 2)
            if code not in (0, None) and self.status == status.COMPLETE:
                self.warnings.append(f"engine exited with code {code} on shutdown")

    # -- the run directory -----------------------------------------------------------------
    def _profile_blocks(self) -> ProfileBlocks:
        if self.session is None:
            return ProfileBlocks()
        self.console.print("vbench: rendering profiles")
        events = events_between(self.stats_before, self.stats_after)
        try:
            blocks = self.session.finish(events.acknowledged if events else None).summary_blocks()
        except Exception as bug:  # a bug: its traceback, and the run's figures still written
            self.console.print_exception()
            self._fail(status.FAILED, f"rendering the profiles failed: {type(bug).__name__}: {bug}")
            return ProfileBlocks()
        for kind, reason in blocks.profiles_skipped.items():
            self.console.print(f"[yellow]vbench: {kind} profile skipped: {escape(reason)}[/]")
        return blocks

    def _record(self, run_status: str, profiles: ProfileBlocks | None = None) -> RunRecord:
        window_start = self.final.load_window.start if self.final else self.started_at
        final = (
            msgspec.convert(self.final, GeneratorReport, from_attributes=True)
            if self.final
            else None
        )
        return RunRecord(
            run_id=self.run_dir.run_id,
            started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(window_start)),
            status=run_status,
            status_detail=self.detail,
            scenario=self.scenario.name,
            scenario_description=self.scenario.description,
            config=self.config_name,
            target=self.target or (self.engine.url if self.engine else None),
            embedded_engine=self.target is None and self.options.engine is None,
            profiled=self.session is not None,
            profile_requested=list(self.session.kinds) if self.session else [],
            load=planned_load(self.spec),
            stats_before=self.stats_before,
            stats_after=self.stats_after,
            final=final,
            invariants_not_applicable=self.not_applicable,
            warnings=self.warnings,
            thresholds=list(self.scenario.thresholds.checks),
            memory=profiles.memory if profiles else None,
            cpu=profiles.cpu if profiles else None,
            profiles_skipped=profiles.profiles_skipped if profiles else {},
            interleaved=self.options.place if self.options.place is not None else msgspec.UNSET,
            engine_window=self._engine_window(),
        )

    def _engine_window(self) -> EngineWindow | msgspec.UnsetType:
        reading = self.engine_window.reading() if self.engine_window else None
        return msgspec.UNSET if reading is None else reading

    def _write_record(self) -> RunRecord:
        rows = [_timeseries_row(tick, sample) for tick, sample in self.ticks]
        write_timeseries(self.run_dir.timeseries, rows)
        record = self._record(self.status, self._profile_blocks())
        write_document(self.run_dir.record, record)
        self.run_dir.file("scenario.json").write_text(self.scenario.model_dump_json(indent=2))
        return record


def _timeseries_row(tick: Tick, sample: EngineSample | None) -> dict[str, Any]:
    row: dict[str, Any] = {column: getattr(tick, column) for column in TICK_COLUMNS}
    row["queue_depth"] = sample.queue_depth if sample else None
    row["engine_rss_mb"] = round(sample.rss_mb, 1) if sample and sample.rss_mb else None
    return row
