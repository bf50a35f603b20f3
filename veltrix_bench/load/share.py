"""One generator process's part of the load: its users, recording, window, ticks and drain.

A local run has one share (0 of 1); in a distributed run every worker holds share k of n:
every n-th intended send time of the arrival schedule and every n-th player. Either way
the share's life is the same: `open_window` (it reports each second to `ship`), then
`finish_window` (close, drain, the last partial second, the whole-run result).
Imported inside generator processes only (after gevent's patching).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from locust import User
from locust.env import Environment

from veltrix_bench.load import traffic
from veltrix_bench.load.messages import IntervalReport, ShareResult
from veltrix_bench.load.players import Hunt, Population
from veltrix_bench.load.protocol import LateStarts, RequestCounts
from veltrix_bench.load.recorder import Recorder
from veltrix_bench.load.spec import LoadSpec
from veltrix_bench.load.users import SharedLoad, user_class_for
from veltrix_bench.quietgc import QuietCollector

DRAIN_POLL_S = 0.02
LOOP_LAG_PERIOD_S = 0.02


class LoadShare:
    """Build with the hunts (ignored for a custom locustfile), `attach` to an Environment,
    then open_window / close_interval every second / close_window / drain."""

    def __init__(self, spec: LoadSpec, hunts: list[Hunt], share: tuple[int, int] = (0, 1)):
        self.spec = spec
        self.share = share
        self.recorder = Recorder()
        self.collector = QuietCollector()
        self.custom = spec.locustfile is not None
        self.population: Population | None = None
        if spec.locustfile is not None:
            self.shared = SharedLoad(spec, None, self.recorder)
            self.user_classes: list[type[User]] = traffic.load_user_classes(
                Path(spec.locustfile), spec.target
            )
            traffic.bind(self.shared)
        else:
            index, shares = share
            self.population = Population(
                hunts,
                spec.world.players,
                spec.mix,
                spec.wrong_answer_rate,
                spec.seed + index,
                spec.run_tag if shares == 1 else f"{spec.run_tag}-w{index}",
                share,
            )
            self.shared = SharedLoad(spec, self.population, self.recorder)
            self.user_classes = [user_class_for(spec, self.shared)]
        self.window_start_perf = 0.0
        """0.0 until the load window opens (it may never: stopped while spawning)."""
        self._cpu_start = time.process_time()
        self._canary: gevent.Greenlet | None = None
        self._ticker: gevent.Greenlet | None = None

    def attach(self, env: Environment) -> None:
        env.user_classes[:] = self.user_classes
        env.host = self.spec.target
        if self.custom:
            # a locustfile's users report through Locust's request event; vbench's own
            # players record straight into the recorder and fire no event
            env.events.request.add_listener(self._on_custom_request)

    def _on_custom_request(self, **request: Any) -> None:
        context = request.get("context") or {}
        if "intended_start" not in context:
            # unpaced requests of the user's classes count only inside the window
            shared = self.shared
            if not shared.window_open.is_set() or shared.window_closed.is_set():
                return
            if shared.in_warmup(time.perf_counter()):
                return
            if not context.get("warm_up"):
                self.recorder.note_started()
        self.recorder.on_request(**request)

    def open_window(self, start_perf: float, ship: Callable[[IntervalReport], None]) -> None:
        """The window opens at `start_perf` (time.perf_counter()); users may take slots now.
        Each second of it goes to `ship` as it ends."""
        self.collector.quiet()
        self.shared.open_window(start_perf, self.share)
        self.window_start_perf = start_perf
        self._ticker = gevent.spawn(self._tick_every_second, ship)

    def finish_window(
        self, interrupted: bool, stop: Event, ship: Callable[[IntervalReport], None]
    ) -> ShareResult:
        """No new starts; wait for the answers (not if `interrupted`, nor once `stop` is set),
        ship the last partial second and return the whole-run result."""
        self.shared.close_window(interrupted)
        drained = self._drain(lambda: interrupted or stop.is_set())
        for background in (self._ticker, self._canary):
            if background is not None:
                background.kill()
        if self.window_start_perf:
            ship(self._close_interval(self._elapsed_s()))
        return self._result(interrupted, drained)

    def _tick_every_second(self, ship: Callable[[IntervalReport], None]) -> None:
        # the generator's CPU and its loop's lag are the window's, not the warm-up's
        gevent.sleep(max(0.0, self.window_start_perf - time.perf_counter()))
        self._cpu_start = time.process_time()
        self._canary = gevent.spawn(self._watch_loop_lag)
        second = 1
        while True:
            gevent.sleep(max(0.0, self.window_start_perf + second - time.perf_counter()))
            ship(self._close_interval(second))
            second += 1

    def _watch_loop_lag(self) -> None:
        """A canary: how much later than asked does a sleeping greenlet wake up?"""
        while True:
            asked = time.perf_counter() + LOOP_LAG_PERIOD_S
            gevent.sleep(LOOP_LAG_PERIOD_S)
            lag = max(0.0, time.perf_counter() - asked)
            self.shared.loop_lag_s = lag
            self.recorder.note_loop_lag(lag)

    def _close_interval(self, end_s: float) -> IntervalReport:
        rate = self.spec.target_rate_at(end_s - 0.5)
        tick, latency, service = self.recorder.close_interval(
            end_s, None if rate is None else round(rate, 3)
        )
        self.collector.check()
        return IntervalReport.of(tick, latency, service)

    def _drain(self, give_up: Callable[[], bool]) -> bool:
        """Wait up to the drain time for answers to every request sent; True if all came."""
        deadline = time.perf_counter() + self.spec.drain_s
        while self.recorder.in_flight > 0 and not give_up():
            if time.perf_counter() >= deadline:
                break
            gevent.sleep(DRAIN_POLL_S)
        return self.recorder.in_flight == 0

    def _elapsed_s(self) -> float:
        return time.perf_counter() - self.window_start_perf

    def _cpu_share(self) -> float:
        if not self.window_start_perf:
            return 0.0
        return (time.process_time() - self._cpu_start) / max(self._elapsed_s(), 1e-9)

    def _result(self, interrupted: bool, drained: bool) -> ShareResult:
        recorder, counts = self.recorder, self.recorder.total
        ledger = self.population.ledger if self.population is not None else None
        return ShareResult(
            interrupted=interrupted,
            drained=drained,
            started=recorder.started,
            unanswered=recorder.in_flight,
            requests=RequestCounts(counts.requests, counts.ok, counts.errors, counts.rejected),
            late_starts=LateStarts(counts.late_cap, counts.late_generator),
            # empty for a custom locustfile: no players, no game
            acked_by_type=dict(ledger.acked_by_type) if ledger else {},
            sent_by_type=dict(ledger.sent_by_type) if ledger else {},
            wins_seen=dict(ledger.wins_seen) if ledger else {},
            error_samples=list(recorder.error_samples),
            latency=recorder.latency.encode(),
            service=recorder.service.encode(),
            start_delay=recorder.start_delay.encode(),
            loop_lag=recorder.loop_lag.encode(),
            peak_rss_mb=QuietCollector.peak_rss_mb(),
            cpu_share=round(self._cpu_share(), 3),
        )
