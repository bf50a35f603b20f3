"""The load generator process: `python -m veltrix_bench.load.generator SPEC.json`.

Locust runs embedded (Environment + local runner). The process reads the spec, fetches
the hunts it will play, spawns the users, runs the load window, drains, writes
latency.hlog / service.hlog into the spec's out_dir and speaks the line protocol of
`veltrix_bench.load.protocol` on stdout (everything else goes to stderr). SIGINT or
SIGTERM stops it within about a second with partial results (exit 0); a fatal problem
prints an error line and exits 1.
"""

# gevent must patch before ssl/urllib3/requests are imported anywhere (see DESIGN.md),
# so every other import comes after the patch.
# ruff: noqa: E402
from gevent import monkey

monkey.patch_all()

import json
import logging
import resource
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

import gevent
from gevent.event import Event
from gevent.pool import Pool
from locust.env import Environment
from locust.runners import LocalRunner

from veltrix_bench.load import liveness
from veltrix_bench.load.arrival import planned_slots
from veltrix_bench.load.players import Hunt
from veltrix_bench.load.protocol import (
    Error,
    Final,
    LateStarts,
    Line,
    LoadWindow,
    Ready,
    RequestCounts,
    encode,
)
from veltrix_bench.load.recorder import summarize
from veltrix_bench.load.share import LoadShare
from veltrix_bench.load.spec import LoadSpec
from veltrix_bench.load.traffic import LocustfileError
from veltrix_bench.load.users import SharedLoad
from veltrix_bench.quietgc import QuietCollector

log = logging.getLogger("vbench.load")

HUNT_FETCH_TIMEOUT_S = 5.0
HUNT_FETCH_CONCURRENCY = 16
SPARE_FILES = 256
WARM_UP_S = 30.0
LEAD_PER_USER_S = 0.0002
MAX_LEAD_S = 2.0
KILL_USERS_TIMEOUT_S = 1.0


class Protocol:
    """Writes protocol lines to the real stdout, flushed one by one."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def emit(self, line: Line) -> None:
        self._stream.write(encode(line) + "\n")
        self._stream.flush()


class StopRequest:
    """Set by SIGINT/SIGTERM; every wait in the run also waits on it."""

    def __init__(self) -> None:
        self.event = Event()

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def __call__(self) -> None:
        if not self.event.is_set():
            log.warning("stop requested: finishing with partial results")
        self.event.set()


def fetch_hunts(target: str, count: int) -> list[Hunt] | str:
    """GET /v1/hunts/1..count before the load starts: the hunts, or why they are missing."""
    answers = Pool(HUNT_FETCH_CONCURRENCY).map(
        lambda number: _fetch_hunt(target, number), range(1, count + 1)
    )
    problems = [answer for answer in answers if isinstance(answer, str)]
    return problems[0] if problems else answers


def _fetch_hunt(target: str, number: int) -> Hunt | str:
    url = f"{target}/v1/hunts/{number}"
    try:
        with urllib.request.urlopen(url, timeout=HUNT_FETCH_TIMEOUT_S) as answer:
            return Hunt.from_json(json.loads(answer.read()))
    except urllib.error.HTTPError as exc:
        return f"GET {url} answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"GET {url} failed: {getattr(exc, 'reason', exc)}"
    except ValueError as exc:
        return f"GET {url}: {exc}"


def raise_open_file_limit(needed: int) -> None:
    """Every in-flight request holds a socket: lift the soft limit toward the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new_soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        if new_soft < needed:
            log.warning(
                "open-file limit %d is below the %d this run may need: "
                "connections beyond it will fail",
                new_soft,
                needed,
            )


class GeneratorRun:
    """One load window: spawn, offer load, tick every second, drain, report."""

    def __init__(self, spec: LoadSpec, hunts: list[Hunt], stop: StopRequest, out: Protocol):
        self.spec = spec
        self.stop = stop
        self.out = out
        self.load = LoadShare(spec, hunts)
        self.recorder = self.load.recorder
        self.shared = self.load.shared
        self.env = Environment(user_classes=[], host=spec.target)
        self.load.attach(self.env)
        self._spawned = Event()
        self.env.events.spawning_complete.add_listener(lambda **_: self._spawned.set())
        self._window_start = self._window_end = time.time()

    def run(self) -> None:
        runner = self.env.create_local_runner()
        drained = False
        ticker = None
        try:
            if not self.stop.requested:
                self._spawn_and_warm_up(runner)
            if not self.stop.requested:
                ticker = self._open_window(runner)
                self.stop.event.wait(timeout=self.spec.duration_s)
                self._window_end = time.time()
            self.load.close_window(interrupted=self.stop.requested)
            drained = self.load.drain(self.stop.event)
        finally:
            if ticker is not None:
                ticker.kill()
            self.load.stop_canary()
            # Locust stops users one at a time (~3 s for 5,000): kill them all at once first
            stopping = time.perf_counter()
            runner.user_greenlets.kill(block=True, timeout=KILL_USERS_TIMEOUT_S)
            runner.quit()
            log.info("users stopped in %.2f s", time.perf_counter() - stopping)
        finishing = time.perf_counter()
        self._finish(drained)
        log.info("results written in %.2f s", time.perf_counter() - finishing)

    def _spawn_and_warm_up(self, runner: LocalRunner) -> None:
        users = self.shared.users_expected
        runner.start(users, spawn_rate=users)
        gevent.wait([self._spawned, self.stop.event], count=1)
        wait_until_warm(self.shared, self.stop)

    def _open_window(self, runner: LocalRunner) -> gevent.Greenlet:
        self.env.stats.reset_all()  # Locust's own figures cover the window only
        # Users take their first slots during a short lead time, so that thousands of
        # them waking at once do not make the first intended times late.
        start_perf = time.perf_counter() + lead_time_s(self.spec, runner.user_count)
        self.load.open_window(start_perf)
        gevent.sleep(max(0.0, start_perf - time.perf_counter()))
        self._window_start = self._window_end = time.time() - (time.perf_counter() - start_perf)
        self.recorder.open_logs(self.spec.out_dir, self._window_start)
        self.out.emit(Ready(started_at=round(self._window_start, 3), users=runner.user_count))
        return gevent.spawn(self._tick_every_second)

    def _tick_every_second(self) -> None:
        second = 1
        while True:
            gevent.sleep(max(0.0, self.load.window_start_perf + second - time.perf_counter()))
            self.out.emit(self.load.close_interval(second)[0])
            second += 1

    def _finish(self, drained: bool) -> None:
        spec, recorder = self.spec, self.recorder
        window_s = self._window_end - self._window_start
        if self.load.window_start_perf:
            last = self.load.close_interval(self.load.elapsed_s())[0]
            if last.requests or last.late_cap or last.late_generator:
                self.out.emit(last)
        else:
            recorder.open_logs(spec.out_dir, self._window_start)
        recorder.close_logs()
        if spec.model == "open":
            scheduled = planned_slots(spec.stages, window_s)
        else:
            scheduled = recorder.started
        locust_total = self.env.stats.total
        acked, sent, wins = self.load.ledger()
        self.out.emit(
            Final(
                interrupted=self.stop.requested,
                load_window=LoadWindow(
                    start=round(self._window_start, 3), end=round(self._window_end, 3)
                ),
                duration_s=round(window_s, 3),
                requests=RequestCounts(
                    total=recorder.total.requests,
                    ok=recorder.total.ok,
                    errors=recorder.total.errors,
                    rejected=recorder.total.rejected,
                ),
                scheduled=scheduled,
                started=recorder.started,
                late_starts=LateStarts(
                    in_flight_cap=recorder.total.late_cap,
                    generator=recorder.total.late_generator,
                ),
                acked_by_type=acked,
                sent_by_type=sent,
                wins_seen=wins,
                drained=drained,
                unanswered=recorder.in_flight,
                locust_p99_ms=(
                    float(locust_total.get_response_time_percentile(0.99))
                    if locust_total.num_requests
                    else None
                ),
                error_samples=list(recorder.error_samples),
                latency_ms=summarize(recorder.latency),
                service_time_ms=summarize(recorder.service),
                start_delay_ms=summarize(recorder.start_delay),
                loop_lag_ms=summarize(recorder.loop_lag),
                generator_peak_rss_mb=QuietCollector.peak_rss_mb(),
                generator_cpu_share=round(self.load.cpu_share(), 3),
            )
        )


def lead_time_s(spec: LoadSpec, users: int) -> float:
    """How long before the window opens users may take their first slots."""
    return min(MAX_LEAD_S, LEAD_PER_USER_S * users) if spec.model == "open" else 0.0


def wait_until_warm(shared: SharedLoad, stop: StopRequest) -> None:
    gevent.wait([shared.all_warm, stop.event], count=1, timeout=WARM_UP_S)
    if not shared.all_warm.is_set() and not stop.requested:
        log.warning(
            "only %d of %d users connected within %.0f s: starting anyway",
            shared.users_warm,
            shared.users_expected,
            WARM_UP_S,
        )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    # only protocol lines may reach stdout: anything else printed goes to stderr
    out = Protocol(sys.stdout)
    sys.stdout = sys.stderr
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
    )
    if len(args) != 1:
        out.emit(Error(message="usage: python -m veltrix_bench.load.generator SPEC.json"))
        return 1
    try:
        spec = LoadSpec.from_json(Path(args[0]).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        out.emit(Error(message=f"cannot read load spec {args[0]}: {exc}"))
        return 1

    liveness.install()
    stop = StopRequest()
    gevent.signal_handler(signal.SIGINT, stop)
    gevent.signal_handler(signal.SIGTERM, stop)
    needed = (spec.max_in_flight if spec.model == "open" else spec.users) + SPARE_FILES
    raise_open_file_limit(needed)

    if spec.distributed:
        from veltrix_bench.load.master import run_master

        return run_master(spec, stop, out)
    hunts = hunts_for(spec, stop)
    if isinstance(hunts, str):
        out.emit(Error(message=hunts))
        return 1
    try:
        GeneratorRun(spec, hunts, stop, out).run()
    except LocustfileError as exc:
        out.emit(Error(message=str(exc)))
        return 1
    except Exception as exc:
        log.exception("generator failed")
        out.emit(Error(message=f"generator failed: {type(exc).__name__}: {exc}"))
        return 1
    return 0


def hunts_for(spec: LoadSpec, stop: StopRequest) -> list[Hunt] | str:
    """The hunts the players play (none needed for a custom locustfile), or what went wrong."""
    placeholder = [Hunt(1, (1,), ((1, ""),), (1,))]
    if spec.locustfile is not None:
        return placeholder
    fetch = gevent.spawn(fetch_hunts, spec.target, spec.world.hunts)
    gevent.wait([fetch, stop.event], count=1)
    if not fetch.ready():
        fetch.kill()
        # stopped before anything ran: still leave files and a final line behind
        return placeholder
    hunts: list[Hunt] | str = fetch.value
    return hunts


if __name__ == "__main__":
    sys.exit(main())
