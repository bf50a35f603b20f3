"""One generator process's part of the load: its users, recording, window, ticks and drain.

A local run has one share (0 of 1); in a distributed run every worker holds share k of n:
every n-th intended send time of the arrival schedule and every n-th player.
Imported inside generator processes only (after gevent's patching).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gevent
from hdrh.histogram import HdrHistogram
from locust import User
from locust.env import Environment

from veltrix_bench.load import traffic
from veltrix_bench.load.players import Hunt, Population
from veltrix_bench.load.protocol import Tick
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

    def attach(self, env: Environment) -> None:
        env.user_classes[:] = self.user_classes
        env.host = self.spec.target
        # vbench's own users go straight to the recorder: this runs once per request
        listener = self._on_custom_request if self.custom else self.recorder.on_request
        env.events.request.add_listener(listener)

    def _on_custom_request(self, **request: Any) -> None:
        context = request.get("context") or {}
        if "intended_start" not in context:
            # unpaced requests of the user's classes count only inside the window
            shared = self.shared
            if not shared.window_open.is_set() or shared.window_closed.is_set():
                return
            if not context.get("warm_up"):
                self.recorder.note_started()
        self.recorder.on_request(**request)

    def open_window(self, start_perf: float) -> None:
        """The window opens at `start_perf` (time.perf_counter()); users may take slots now."""
        self.collector.quiet()
        self.shared.open_window(start_perf, self.share)
        self.window_start_perf = start_perf
        self._cpu_start = time.process_time()
        self._canary = gevent.spawn(self._watch_loop_lag)

    def _watch_loop_lag(self) -> None:
        """A canary: how much later than asked does a sleeping greenlet wake up?"""
        while True:
            asked = time.perf_counter() + LOOP_LAG_PERIOD_S
            gevent.sleep(LOOP_LAG_PERIOD_S)
            lag = max(0.0, time.perf_counter() - asked)
            self.shared.loop_lag_s = lag
            self.recorder.note_loop_lag(lag)

    def target_rate(self, t: float) -> float | None:
        rate = self.spec.target_rate_at(t)
        return None if rate is None else round(rate, 3)

    def close_interval(self, end_s: float) -> tuple[Tick, HdrHistogram, HdrHistogram]:
        tick = self.recorder.close_interval_keeping_histograms(end_s, self.target_rate(end_s - 0.5))
        self.collector.check()
        return tick

    def close_window(self, interrupted: bool) -> None:
        self.shared.close_window(interrupted)

    def drain(self, interrupted: Any) -> bool:
        """Wait up to the drain time for answers to every request sent; True if all came.
        `interrupted` is polled (an Event-like `is_set`) to give up early."""
        deadline = time.perf_counter() + self.spec.drain_s
        while self.recorder.in_flight > 0 and not interrupted.is_set():
            if time.perf_counter() >= deadline:
                break
            gevent.sleep(DRAIN_POLL_S)
        return self.recorder.in_flight == 0

    def stop_canary(self) -> None:
        if self._canary is not None:
            self._canary.kill()

    def elapsed_s(self) -> float:
        return time.perf_counter() - self.window_start_perf

    def cpu_share(self) -> float:
        if not self.window_start_perf:
            return 0.0
        return (time.process_time() - self._cpu_start) / max(self.elapsed_s(), 1e-9)

    def ledger(self) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """(acked_by_type, sent_by_type, wins_seen); empty for a custom locustfile."""
        if self.population is None:
            return {}, {}, {}
        ledger = self.population.ledger
        return dict(ledger.acked_by_type), dict(ledger.sent_by_type), dict(ledger.wins_seen)
