"""Locust users for the open model (send times from the pacer) and the closed one.

They are Locust `User`s run by Locust's runners, but each sends its player's requests on
its own lean keep-alive connection (`connection.Connection`) and records the answer
straight into vbench's recorder: no Locust HTTP session and no `request` event per
request (custom locustfiles keep both). Imported only inside the generator process,
after gevent has monkey-patched.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, ClassVar
from urllib.parse import urlsplit

import gevent
import msgspec
from gevent.event import Event
from gevent.lock import Semaphore
from locust import User, task

from veltrix_bench.load.arrival import ArrivalSchedule, Slot, late_cause
from veltrix_bench.load.connection import Connection
from veltrix_bench.load.pacing import Due, Pacer
from veltrix_bench.load.players import Action, Population
from veltrix_bench.load.recorder import Outcome, Recorder, outcome_of
from veltrix_bench.load.spec import LoadSpec

_PLAYER_WAIT_STEP_S = 0.1
log = logging.getLogger("vbench.load")

WARM_UP_CONCURRENCY = 64
"""Connections opened at once while warming up: a burst of thousands overflows the
target's accept backlog and costs whole seconds of SYN retransmits."""


class SharedLoad:
    """State every simulated user of one generator shares: players, pacer, recorder."""

    def __init__(self, spec: LoadSpec, population: Population | None, recorder: Recorder) -> None:
        """`population` is None when the user's own locustfile makes the traffic."""
        self.spec = spec
        self._population = population
        self.recorder = recorder
        players = population.idle_count if population is not None else spec.max_in_flight
        self.idle_players = Semaphore(players)
        self.window_open = Event()
        """Set once users may send: at the warm-up's start (the load window follows it)."""
        self.window_closed = Event()
        self.window_start = 0.0
        """time.perf_counter() at which the load window opens (after any warm-up)."""
        self._pacer: Pacer | None = None
        self.interrupted = False
        self.loop_lag_s = 0.0
        """The event loop's most recent lag, kept up to date by the generator."""
        self.wait_rng = random.Random(spec.seed + 1)
        self.users_expected = spec.max_in_flight if spec.model == "open" else spec.users
        self._players = players
        self.effective_cap = max(1, min(self.users_expected, players))
        """Most requests that can be in flight at once: one per user, one per player."""
        self.users_warm = 0
        self.all_warm = Event()
        if population is None:
            self.all_warm.set()  # the user's own classes open their connections themselves
        self._warm_up_gate = Semaphore(WARM_UP_CONCURRENCY)

    @property
    def population(self) -> Population:
        assert self._population is not None, "no players: a custom locustfile makes the traffic"
        return self._population

    @property
    def pacer(self) -> Pacer:
        assert self._pacer is not None, "the open model's pacer exists once the window opens"
        return self._pacer

    def expect_users(self, count: int) -> None:
        """This process runs `count` users (a worker learns its part of the total late)."""
        self.users_expected = count
        self.effective_cap = max(1, min(count, self._players))
        if self.users_warm >= count:
            self.all_warm.set()

    def warm_up(self, connection: Connection) -> None:
        """Open this user's connection before the window opens.

        Otherwise the first request of each of (up to) max_in_flight users pays a TCP
        connect inside the window, and the generator falls behind in the first seconds.
        """
        try:
            with self._warm_up_gate:
                connection.connect()
        except OSError as exc:
            log.debug("warm-up connect failed: %s", exc)  # the first real request reports it
        finally:
            self.users_warm += 1
            if self.users_warm >= self.users_expected:
                self.all_warm.set()

    def open_window(self, start: float, share: tuple[int, int] = (0, 1)) -> None:
        """The window opens at `start`; the open model's warm-up load begins before it."""
        if self.spec.model == "open":
            schedule_start = start - self.spec.warmup_s
            # the schedule's own sum, so that the window's first send time compares equal
            self.window_start = schedule_start + self.spec.warmup_s
            schedule = ArrivalSchedule(self.spec.arrival_stages, schedule_start, share)
            self._pacer = Pacer(schedule)
        else:
            self.window_start = start
        self.window_open.set()

    def in_warmup(self, intended_start: float) -> bool:
        """A send time before the window: its request goes out, but nothing records it."""
        return intended_start < self.window_start

    def close_window(self, interrupted: bool) -> None:
        """No new starts; a user already woken for a slot inside the window still sends,
        unless the run was interrupted."""
        self.interrupted = interrupted
        self.window_closed.set()
        if self._pacer is not None:
            self._pacer.close()

    def take_player(self) -> Action | None:
        """Block until a player is idle; None if the window closed while waiting."""
        while not self.idle_players.acquire(timeout=_PLAYER_WAIT_STEP_S):
            if self.window_closed.is_set():
                return None
        if self.interrupted:
            self.idle_players.release()
            return None
        action = self.population.next_action()
        assert action is not None, "the idle-player semaphore and the pool disagree"
        return action


def idle_until_stopped(shared: SharedLoad) -> None:
    shared.window_closed.wait()
    # the runner kills users at the end; until then stay out of the way
    gevent.sleep(3600)


def next_slot(shared: SharedLoad) -> Due | None:
    """This process's next intended send time once it is due, or None once the window
    is over (or was interrupted)."""
    shared.window_open.wait()
    if shared.interrupted:
        return None
    due = shared.pacer.next_slot()
    return None if shared.interrupted else due


def note_start(shared: SharedLoad, slot: Slot, woke_at: float) -> None:
    """The request for `slot` goes out now: record its delay and, if late, why."""
    started_at = time.perf_counter()
    delay = started_at - slot.intended_start
    shared.recorder.note_start_delay(delay)
    if delay <= shared.spec.late_tolerance_s:
        return  # on time: it was taken and woken no later than it starts
    cause = late_cause(
        slot,
        woke_at,
        started_at,
        shared.spec.late_tolerance_s,
        loop_lag_s=shared.loop_lag_s,
        in_flight_share=shared.recorder.in_flight / shared.effective_cap,
    )
    if cause is not None:
        shared.recorder.note_late(cause)


class _PlayerUser(User):
    """Sends one player's action and hands the answer back to the population."""

    abstract = True
    shared: ClassVar[SharedLoad]
    target: ClassVar[tuple[str, int, bool, bytes]]
    """(host, port, tls, Host header) of the run's target."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        host, port, tls, self._host = self.target
        self.connection = Connection(host, port, tls)

    def on_start(self) -> None:
        self.shared.warm_up(self.connection)

    def on_stop(self) -> None:
        self.connection.close()

    def send(self, action: Action, intended_start: float | None, recorded: bool = True) -> None:
        """One request and its answer; `recorded` False (the warm-up): the game goes on, but
        neither the counts nor the histograms see it."""
        shared = self.shared
        recorder = shared.recorder
        results = None
        if recorded:
            recorder.note_started()
        started = time.perf_counter()
        try:
            failure: Exception | None = None
            try:
                status, body = self.connection.exchange(self._request(action))
            except (OSError, ValueError) as exc:
                status, body, failure = 0, b"", exc
            if recorded:
                done = time.perf_counter()
                service_us = (done - started) * 1_000_000.0
                if intended_start is None:
                    latency_us = service_us
                else:
                    latency_us = (done - intended_start) * 1_000_000.0
                outcome = outcome_of(status, failure)
                recorder.record(latency_us, service_us, outcome)
                if outcome is Outcome.ERROR:
                    recorder.sample_error(action.name, status, body, failure)
            if status == 200 and action.body is not None:
                results = _results(body)
        finally:
            shared.population.settle(action, results)
            shared.idle_players.release()

    def _request(self, action: Action) -> bytes:
        if action.body is None:
            return b"%s %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (
                action.method.encode(),
                action.path.encode(),
                self._host,
            )
        payload = _encode(action.body)
        return b"%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n" \
            b"Content-Length: %d\r\n\r\n%s" % (
                action.method.encode(),
                action.path.encode(),
                self._host,
                len(payload),
                payload,
            )  # fmt: skip


class OpenModelUser(_PlayerUser):
    """Takes the next intended send time from the pacer, then sends one player's action."""

    abstract = True

    @task
    def play(self) -> None:
        """Slot after slot until the window closes, inside one Locust task: Locust's
        per-task bookkeeping and the sleep(0) it takes between tasks would otherwise run
        once per request, on the CPU that sets the generator's ceiling."""
        shared = self.shared
        while True:
            due = next_slot(shared)
            action = None if due is None else shared.take_player()
            if due is None or action is None:
                idle_until_stopped(shared)
                return
            slot, woke_at = due
            if shared.in_warmup(slot.intended_start):
                self.send(action, slot.intended_start, recorded=False)
                continue
            note_start(shared, slot, woke_at)
            self.send(action, slot.intended_start)

    def wait_time(self) -> float:
        return 0.0


class ClosedModelUser(_PlayerUser):
    """Sends one player's action, waits a uniform time, repeats."""

    abstract = True

    @task
    def play(self) -> None:
        shared = self.shared
        shared.window_open.wait()
        if shared.window_closed.is_set():
            idle_until_stopped(shared)
            return
        action = shared.take_player()
        if action is None:
            idle_until_stopped(shared)
            return
        self.send(action, None)

    def wait_time(self) -> float:
        low, high = self.shared.spec.wait_s
        return self.shared.wait_rng.uniform(low, high)


PLAYER_CLASS_NAME = "VeltrixPlayer"


def user_class_for(spec: LoadSpec, shared: SharedLoad) -> type[_PlayerUser]:
    """A concrete user class bound to this run's target and shared state."""
    base: type[_PlayerUser] = OpenModelUser if spec.model == "open" else ClosedModelUser
    # the URL as the target guard rebuilt it (run/target.py): urlsplit reads it as the guard
    target = urlsplit(spec.target)
    tls = target.scheme == "https"
    port = target.port or (443 if tls else 80)
    host_header = target.netloc.encode("ascii")
    return type(
        PLAYER_CLASS_NAME,
        (base,),
        {
            "abstract": False,
            "host": spec.target,
            "shared": shared,
            "target": (target.hostname or "127.0.0.1", port, tls, host_header),
        },
    )


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _results(body: bytes) -> list[dict[str, Any]] | None:
    try:
        answer = _decode(body)
    except msgspec.DecodeError:
        return None
    results = answer.get("results") if isinstance(answer, dict) else None
    return results if isinstance(results, list) else None
