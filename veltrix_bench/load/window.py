"""One load window over a run's shares: spawn, warm up, open, tick, close, merge, finish.

The skeleton every generator run follows, local or distributed. What differs is passed in
as `Shares`: the local run holds its one share in this process (`local.LocalShares`), a
distributed one reaches a share per worker through Locust's master (`master.RemoteShares`).
Either way each share reports its seconds and its result into a `ShareTally`, and the
ticks, the hlog files and the final line come from the same exact merge.
Imported inside generator processes only (after gevent's patching); it patches nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

import gevent
from gevent.event import Event
from locust.env import Environment

from veltrix_bench.load.arrival import planned_slots
from veltrix_bench.load.hlog import WindowLogs
from veltrix_bench.load.merge import ShareTally, merge_interval, merge_results
from veltrix_bench.load.process import LineWriter, StopRequest
from veltrix_bench.load.protocol import Final, LoadWindow, Ready
from veltrix_bench.load.spec import LoadSpec
from veltrix_bench.models.latency import latency_of

log = logging.getLogger("vbench.load")

LEAD_PER_USER_S = 0.0002
MAX_LEAD_S = 2.0
TICK_GRACE_S = 1.5
"""How long after a second ends the run waits for every share's report of it."""
TICK_POLL_S = 0.01
RESULT_POLL_S = 0.05
RESULT_GRACE_S = 10.0


class Shares(Protocol):
    """Where a run's shares live and how to reach them."""

    env: Environment
    """The Locust environment whose runner spawns the users (its stats: Locust's own p99)."""
    lost: Event
    """Set when the window must end early (a worker lost under --on-worker-loss fail)."""
    distributed: bool
    window_lead_s: float
    """Extra time before the window opens for the start to reach every share."""

    @property
    def tallies(self) -> list[ShareTally]:
        """One per share, in share order."""

    def prepare(self) -> None:
        """Spawn every user and let them connect; raises RunFailed if the run cannot start."""

    def users(self) -> int: ...

    def open(self, start_epoch: float, start_perf: float) -> None:
        """Every share opens its window at this instant."""

    def close(self, interrupted: bool) -> None:
        """Every share stops starting requests, drains and reports its result."""

    def give_up(self, tally: ShareTally, why: str) -> None:
        """A share sent no result in time."""

    def shutdown(self) -> None:
        """Stop users, runners and processes (also after a failure)."""


def lead_time_s(spec: LoadSpec, users: int) -> float:
    """How long before the window opens users may take their first slots: a warm-up, if the
    spec has one (its late first starts are not recorded), else a short lead for the users."""
    if spec.model != "open":
        return 0.0
    return spec.warmup_s or min(MAX_LEAD_S, LEAD_PER_USER_S * users)


class WindowRun:
    """Runs one load window over `shares` and speaks the stdout protocol through `out`."""

    def __init__(self, spec: LoadSpec, shares: Shares, stop: StopRequest, out: LineWriter) -> None:
        self.spec = spec
        self.shares = shares
        self.stop = stop
        self.out = out
        self.window_start = self.window_end = time.time()
        self.window_start_perf = 0.0
        """0.0 until the window opens (it may never: stopped while spawning)."""
        self.logs: WindowLogs | None = None

    def run(self) -> int:
        """0, or 1 when a lost worker stopped the run (its error line is out already)."""
        ticker = None
        try:
            self.shares.prepare()
            if not self.stop.requested:
                self._open_window()
                ticker = gevent.spawn(self._tick_every_second)
                window_end = self.window_start_perf + self.spec.duration_s
                gevent.wait(
                    [self.stop.event, self.shares.lost],
                    count=1,
                    timeout=max(0.0, window_end - time.perf_counter()),
                )
                self.window_end = time.time()
            interrupted = self.stop.requested or self.shares.lost.is_set()
            self.shares.close(interrupted)
            self._wait_for_results()
            if ticker is not None:
                ticker.kill()
            self._finish(interrupted)
        finally:
            if ticker is not None:
                ticker.kill()
            if self.logs is not None:
                self.logs.close()
            stopping = time.perf_counter()
            self.shares.shutdown()
            log.info("users stopped in %.2f s", time.perf_counter() - stopping)
        lost = any(tally.lost for tally in self.shares.tallies)
        return 1 if lost and self.spec.on_worker_loss == "fail" else 0

    def _open_window(self) -> None:
        # Users take their first slots during a short lead time (or the warm-up), so that
        # thousands of them waking at once do not make the window's first starts late.
        lead = self.shares.window_lead_s + lead_time_s(self.spec, self.shares.users())
        start_epoch = time.time() + lead
        self.window_start_perf = time.perf_counter() + lead
        self.shares.open(start_epoch, self.window_start_perf)
        gevent.sleep(max(0.0, self.window_start_perf - time.perf_counter()))
        self.shares.env.stats.reset_all()  # Locust's own figures cover the window only
        self.window_start = self.window_end = start_epoch
        self.logs = WindowLogs(self.spec.out_dir, start_epoch)
        self.out.emit(Ready(started_at=round(start_epoch, 3), users=self.shares.users()))

    def _tick_every_second(self) -> None:
        second = 1
        while True:
            due = self.window_start_perf + second
            gevent.sleep(max(0.0, due - time.perf_counter()))
            deadline = due + TICK_GRACE_S
            while time.perf_counter() < deadline and not all(
                tally.settled or tally.has_interval(second) for tally in self.shares.tallies
            ):
                gevent.sleep(TICK_POLL_S)
            self._emit_tick(second, second)
            second += 1

    def _emit_tick(self, end_s: float, until_t: float | None) -> None:
        """Merge what every share reported up to `until_t` (all: None) into one tick."""
        reports = [r for tally in self.shares.tallies for r in tally.take_intervals(until_t)]
        if until_t is None and not reports:
            return
        rate = self.spec.target_rate_at(end_s - 0.5)
        tick, latency, service = merge_interval(
            end_s, reports, None if rate is None else round(rate, 3)
        )
        if self.logs is not None:
            self.logs.write(latency, service, end_s)
        if until_t is None and not (tick.requests or tick.late_cap or tick.late_generator):
            return  # the drain's partial second saw nothing: no tick for it
        self.out.emit(tick)

    def _wait_for_results(self) -> None:
        deadline = time.monotonic() + self.spec.drain_s + RESULT_GRACE_S
        while not all(tally.settled for tally in self.shares.tallies):
            if time.monotonic() >= deadline:
                for tally in self.shares.tallies:
                    if not tally.settled:
                        self.shares.give_up(tally, "it sent no result after the window")
                break
            gevent.sleep(RESULT_POLL_S)

    def _finish(self, interrupted: bool) -> None:
        if self.window_start_perf:
            self._emit_tick(time.perf_counter() - self.window_start_perf, None)
        else:
            self.window_start = self.window_end = time.time()
            self.logs = WindowLogs(self.spec.out_dir, self.window_start)
        spec, tallies = self.spec, self.shares.tallies
        window_s = self.window_end - self.window_start
        total = merge_results(tallies)
        locust_total = self.shares.env.stats.total
        self.out.emit(
            Final(
                interrupted=interrupted,
                load_window=LoadWindow(round(self.window_start, 3), round(self.window_end, 3)),
                duration_s=round(window_s, 3),
                requests=total.requests,
                scheduled=(
                    planned_slots(spec.stages, window_s) if spec.model == "open" else total.started
                ),
                started=total.started,
                late_starts=total.late_starts,
                acked_by_type=total.acked_by_type,
                sent_by_type=total.sent_by_type,
                wins_seen=total.wins_seen,
                drained=total.drained,
                unanswered=total.unanswered,
                locust_p99_ms=(
                    float(locust_total.get_response_time_percentile(0.99))
                    if locust_total.num_requests
                    else None
                ),
                error_samples=total.error_samples,
                latency_ms=latency_of(total.latency),
                service_time_ms=latency_of(total.service),
                start_delay_ms=latency_of(total.start_delay),
                loop_lag_ms=latency_of(total.loop_lag),
                generator_cpu_share=total.cpu_share,
                generator_peak_rss_mb=total.peak_rss_mb,
                processes=len(tallies),
                workers=total.workers if self.shares.distributed else [],
                lost_workers=[tally.lost for tally in tallies if tally.lost],
            )
        )
