"""Open-model pacing in one generator process: which user sends the next intended time, when.

A user that is free takes the next send time of the arrival schedule. If that time is
already due it goes out at once, with no trip through the event loop. Otherwise the user
parks, and one timer of the event loop (not one per user) hands the time to the user that
parked last when it comes due: last in, first out, so only as many users run as the load
needs, they stay warm in the CPU's caches, and the work per request does not depend on how
many users wait. Late starts keep the schedule's meaning (`arrival.late_cause`): a parked
user took its time before it was due, so a late hand-out is the generator's lag; a time
taken after it was due waited for a free user, unless a parked user was waiting for it then.
Imported inside generator processes only (after gevent's patching).
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from gevent.hub import Waiter

from veltrix_bench.load.arrival import ArrivalSchedule, Slot

Due = tuple[Slot, float]
"""A send time and when its user woke for it (time.perf_counter())."""


class Pacer:
    """Hands out the intended send times of one share's schedule to its users."""

    def __init__(self, schedule: ArrivalSchedule) -> None:
        self._schedule = schedule
        self._hub = gevent.get_hub()
        self._parked: list[list[Any]] = []
        """[waiter, parked_at] per parked user, the last parked last; the waiter becomes
        None if its user is stopped while parked."""
        self._timer: Any = None
        self._closed = False

    def next_slot(self) -> Due | None:
        """Block until this user's next send time is due; None once the window is over."""
        schedule = self._schedule
        now = time.perf_counter()
        intended = schedule.next_start
        if self._closed or intended is None or now >= schedule.end:
            return None
        if intended <= now:
            # Due already. If users are parked, one was waiting when it came due (each parked
            # before the time it waits for): only the loop's lag kept it from them, so it
            # counts as taken in time and woken late (the generator's lateness), not as a
            # time every user was too busy to take.
            taken_at = intended if self._parked else now
            return schedule.take(taken_at), now  # type: ignore[return-value]  # due: never None
        entry: list[Any] = [Waiter(self._hub), now]
        self._parked.append(entry)
        self._arm(intended)
        try:
            due: Due | None = entry[0].get()
        except BaseException:
            entry[0] = None  # stopped while parked: hand its user nothing
            raise
        return due

    def close(self) -> None:
        """No more send times: every parked user wakes with None."""
        self._closed = True
        self._hub.loop.run_callback(self._release_parked)

    def _arm(self, intended: float) -> None:
        if self._timer is not None:
            return  # armed for this time or an earlier one, whose hand-out re-arms
        self._timer = self._hub.loop.timer(max(0.0, intended - time.perf_counter()))
        self._timer.start(self._hand_out)

    def _hand_out(self) -> None:
        """In the event loop: every due time to the user that parked last, then re-arm."""
        self._timer.close()
        self._timer = None
        schedule, parked = self._schedule, self._parked
        while parked:
            now = time.perf_counter()
            intended = schedule.next_start
            if self._closed or intended is None:
                self._release_parked()
                return
            if intended > now:
                self._arm(intended)
                return
            waiter, parked_at = parked.pop()
            if waiter is not None:
                # it was waiting before the time was due: taken then, woken now (even if
                # the loop was so late that the window's end has passed: a late start for
                # the generator's sake, not a time no user was free for)
                waiter.switch((schedule.take(parked_at), now))

    def _release_parked(self) -> None:
        if self._timer is not None:
            self._timer.close()
            self._timer = None
        while self._parked:
            waiter, _ = self._parked.pop()
            if waiter is not None:
                waiter.switch(None)
