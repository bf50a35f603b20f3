"""Locust FastHttpUsers for the open model (slots from the arrival schedule) and the closed one.

Imported only inside the generator process, after gevent has monkey-patched.
"""

from __future__ import annotations

import json
import logging
import random
import time
from typing import Any, ClassVar

import gevent
from gevent.event import Event
from gevent.lock import Semaphore
from locust import FastHttpUser, task

from veltrix_bench.load.arrival import ArrivalSchedule, Slot, late_cause
from veltrix_bench.load.players import Action, Population
from veltrix_bench.load.recorder import Recorder
from veltrix_bench.load.spec import LoadSpec

_PLAYER_WAIT_STEP_S = 0.1
log = logging.getLogger("vbench.load")

WARM_UP_PATH = "/healthz"
WARM_UP_CONCURRENCY = 64
"""Connections opened at once while warming up: a burst of thousands overflows the
target's accept backlog and costs whole seconds of SYN retransmits."""


class SharedLoad:
    """State every simulated user of one generator shares: players, schedule, recorder."""

    def __init__(self, spec: LoadSpec, population: Population | None, recorder: Recorder) -> None:
        """`population` is None when the user's own locustfile makes the traffic."""
        self.spec = spec
        self._population = population
        self.recorder = recorder
        players = population.idle_count if population is not None else spec.max_in_flight
        self.idle_players = Semaphore(players)
        self.window_open = Event()
        self.window_closed = Event()
        self.schedule: ArrivalSchedule | None = None
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

    def expect_users(self, count: int) -> None:
        """This process runs `count` users (a worker learns its part of the total late)."""
        self.users_expected = count
        self.effective_cap = max(1, min(count, self._players))
        if self.users_warm >= count:
            self.all_warm.set()

    def warm_up(self, session: Any) -> None:
        """Open this user's connection before the window opens.

        Otherwise the first request of each of (up to) max_in_flight users pays a TCP
        connect inside the window, and the generator falls behind in the first seconds.
        A bare connect does not wait on the target's HTTP latency (an overloaded target
        answers a warm-up request as late as any other).
        """
        try:
            with self._warm_up_gate:
                _connect_ahead(session, self.spec.target)
        except OSError as exc:
            log.debug("warm-up connect failed: %s", exc)  # the first real request reports it
        finally:
            self.users_warm += 1
            if self.users_warm >= self.users_expected:
                self.all_warm.set()

    def open_window(self, start: float, share: tuple[int, int] = (0, 1)) -> None:
        if self.spec.model == "open":
            self.schedule = ArrivalSchedule(self.spec.stages, start, share)
        self.window_open.set()

    def close_window(self, interrupted: bool) -> None:
        """No new starts; a user already woken for a slot inside the window still sends,
        unless the run was interrupted."""
        self.interrupted = interrupted
        self.window_closed.set()

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


class _PlayerUser(FastHttpUser):
    """Sends one player's action and hands the answer back to the population."""

    abstract = True
    shared: ClassVar[SharedLoad]

    def on_start(self) -> None:
        self.shared.warm_up(self.client)

    def send(self, action: Action, intended_start: float | None) -> None:
        shared = self.shared
        context: dict[str, Any] = {}
        if intended_start is not None:
            context["intended_start"] = intended_start
        results = None
        shared.recorder.note_started()
        try:
            if action.body is not None:
                response = self.client.post(
                    action.path, json=action.body, name=action.name, context=context
                )
                if response.status_code == 200:
                    results = _results(response)
            else:
                self.client.get(action.path, name=action.name, context=context)
        finally:
            shared.population.settle(action, results)
            shared.idle_players.release()

    def idle_until_stopped(self) -> None:
        idle_until_stopped(self.shared)


def idle_until_stopped(shared: SharedLoad) -> None:
    shared.window_closed.wait()
    # the runner kills users at the end; until then stay out of the way
    gevent.sleep(3600)


def sleep_until_slot(shared: SharedLoad) -> tuple[Slot, float] | None:
    """Take this process's next intended send time and sleep until it: (slot, woke at),
    or None once the window is over."""
    shared.window_open.wait()
    schedule = shared.schedule
    assert schedule is not None
    slot = schedule.take(time.perf_counter())
    if slot is None or shared.window_closed.is_set():
        return None
    now = time.perf_counter()
    if slot.intended_start > now:
        gevent.sleep(slot.intended_start - now)
        now = time.perf_counter()
    # a slot already due goes out at once: a sleep(0) would only add a trip through the hub
    return slot, now


def note_start(shared: SharedLoad, slot: Slot, woke_at: float) -> None:
    """The request for `slot` goes out now: record its delay and, if late, why."""
    started_at = time.perf_counter()
    shared.recorder.note_start_delay(started_at - slot.intended_start)
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


class OpenModelUser(_PlayerUser):
    """Takes the next intended send time, sleeps until it, then sends one player's action."""

    abstract = True

    @task
    def play(self) -> None:
        """Slot after slot until the window closes, inside one Locust task: Locust's
        per-task bookkeeping and the sleep(0) it takes between tasks would otherwise run
        once per request, on the CPU that sets the generator's ceiling."""
        shared = self.shared
        while True:
            due = sleep_until_slot(shared)
            action = None if due is None or shared.interrupted else shared.take_player()
            if due is None or action is None:
                self.idle_until_stopped()
                return
            slot, woke_at = due
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
            self.idle_until_stopped()
            return
        action = shared.take_player()
        if action is None:
            self.idle_until_stopped()
            return
        self.send(action, None)

    def wait_time(self) -> float:
        low, high = self.shared.spec.wait_s
        return self.shared.wait_rng.uniform(low, high)


def _connect_ahead(session: Any, target: str) -> None:
    """Put one connected socket into the session's pool (geventhttpclient internals).

    Falls back to a real, unrecorded request if those internals ever change.
    """
    try:
        pool = session.client.clientpool.get_client(target)._connection_pool
        get_socket, return_socket = pool.get_socket, pool.return_socket
    except AttributeError:
        session.get(WARM_UP_PATH, name="warm-up", context={"warm_up": True})
        return
    return_socket(get_socket())


PLAYER_CLASS_NAME = "VeltrixPlayer"


def user_class_for(spec: LoadSpec, shared: SharedLoad) -> type[_PlayerUser]:
    """A concrete user class bound to this run's target and shared state."""
    base: type[_PlayerUser] = OpenModelUser if spec.model == "open" else ClosedModelUser
    # answers may legitimately take the whole window plus the drain under overload
    timeout = max(60.0, spec.duration_s + spec.drain_s + 5.0)
    return type(
        PLAYER_CLASS_NAME,
        (base,),
        {
            "abstract": False,
            "host": spec.target,
            "shared": shared,
            "network_timeout": timeout,
            "connection_timeout": 10.0,
            "concurrency": 1,
        },
    )


def _results(response: Any) -> list[dict[str, Any]] | None:
    # the raw content, decoded here: FastResponse.json() may run charset detection and
    # json.loads on bytes sniffs the encoding, on every answer
    content = response.content
    try:
        body = json.loads(content.decode() if isinstance(content, bytes) else content)
    except (ValueError, TypeError):
        return None
    results = body.get("results") if isinstance(body, dict) else None
    return results if isinstance(results, list) else None
