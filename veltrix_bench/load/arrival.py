"""Open-model arrivals: one shared schedule of intended send times, and why a start was late.

Pure logic on a clock the caller passes in (time.perf_counter in the generator), so it
can be tested without gevent. Rates are piecewise constant: stage i, at `rate` requests/s
from `stage_start`, has intended times stage_start + j / rate for j = 0, 1, ... while
they fall inside the stage. Times are computed from j, not by adding intervals, so they
do not drift over a long soak.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import NamedTuple

_EPSILON = 1e-9


class LateCause(StrEnum):
    IN_FLIGHT_CAP = "in_flight_cap"
    """No simulated user (or no idle player) was free when the slot was due: the target backs up."""

    GENERATOR = "generator"
    """A user was waiting for the slot but woke too late: the generator could not keep up."""


class Slot(NamedTuple):
    """One intended send time, as a user took it (a named tuple: one is made per request)."""

    number: int
    """0, 1, 2, ... in the order this share hands them out."""
    intended_start: float
    """Clock time the request should be sent at."""
    taken_at: float
    """When a free user took it: late if after the intended time (every user was busy; a
    user parked for it counts as taking it in time, see pacing.Pacer)."""


def slots_in_stage(duration_s: float, rate: float) -> int:
    """How many intended times a stage holds: j / rate < duration_s for j = 0, 1, ..."""
    if rate <= 0:
        return 0
    return max(0, math.ceil(duration_s * rate - _EPSILON))


def planned_slots(stages: Sequence[tuple[float, float]], until_s: float) -> int:
    """How many intended times fall before `until_s` seconds into the window."""
    count = 0
    stage_start = 0.0
    for duration, rate in stages:
        if until_s <= stage_start:
            break
        covered = min(duration, until_s - stage_start)
        count += min(slots_in_stage(covered, rate), slots_in_stage(duration, rate))
        stage_start += duration
    return count


class ArrivalSchedule:
    """Hands out intended send times in order; shared by every user of one generator.

    With `share=(k, n)` it hands out only the times j with j % n == k of each stage: n
    generator processes with shares 0..n-1 together offer exactly the whole schedule.
    """

    def __init__(
        self,
        stages: Sequence[tuple[float, float]],
        start: float,
        share: tuple[int, int] = (0, 1),
    ) -> None:
        self._stages = [(float(duration), float(rate)) for duration, rate in stages]
        self._slots = [slots_in_stage(duration, rate) for duration, rate in self._stages]
        self.start = start
        self.end = start + sum(duration for duration, _ in self._stages)
        self._stage = 0
        self._stage_start = start
        self._offset, self._stride = share
        if not 0 <= self._offset < self._stride:
            raise ValueError(f"share {share}: expected (k, n) with 0 <= k < n")
        self._j = self._offset
        self.taken = 0
        self.next_start: float | None = self._find_next()
        """The intended time the next `take` hands out, or None when none is left (read
        once or twice per request, so an attribute kept up to date rather than a search)."""

    def take(self, now: float) -> Slot | None:
        """The next intended time, or None once the window is over (at `end` or all slots out)."""
        intended = self.next_start
        if intended is None or now >= self.end:
            return None
        slot = Slot(self.taken, intended, now)
        self._j += self._stride
        self.taken += 1
        self.next_start = self._find_next()
        return slot

    def _find_next(self) -> float | None:
        while self._stage < len(self._stages):
            if self._j < self._slots[self._stage]:
                return self._stage_start + self._j / self._stages[self._stage][1]
            self._stage_start += self._stages[self._stage][0]
            self._stage += 1
            self._j = self._offset
        return None


BUSY_NOT_WAITING_SHARE = 0.5
"""When fewer than this share of the users' requests are really in flight, users are
busy inside the generator (answers read late), not waiting on the target."""


def late_cause(
    slot: Slot,
    woke_at: float,
    started_at: float,
    tolerance_s: float,
    *,
    loop_lag_s: float = 0.0,
    in_flight_share: float = 1.0,
) -> LateCause | None:
    """Why a start missed its intended time by more than `tolerance_s`, or None if on time.

    - Taken in time, but the user woke late from its sleep: GENERATOR.
    - Taken after it was due (every user busy), or woke in time but then waited for an
      idle player (every player busy: the effective cap is min(max_in_flight, players)):
      IN_FLIGHT_CAP when the requests were really in flight at the target. It is the
      GENERATOR instead when its event loop lagged more than the tolerance (`loop_lag_s`)
      or when under half of the effective cap was in flight (`in_flight_share`): users
      then only look busy because a saturated generator has not yet read their answers.
    """
    due = slot.intended_start + tolerance_s
    if slot.taken_at <= due and woke_at > due:
        return LateCause.GENERATOR
    if slot.taken_at > due or started_at > due:
        if loop_lag_s > tolerance_s or in_flight_share < BUSY_NOT_WAITING_SHARE:
            return LateCause.GENERATOR
        return LateCause.IN_FLIGHT_CAP
    return None
