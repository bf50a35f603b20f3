"""The open model's pacer: every send time once, on time, to the user that parked last."""

from __future__ import annotations

import json

from tests.conftest import python_output

# Users loop: take a due send time, "send" (a sleep of `busy` s), repeat. Run in a fresh
# Python (gevent patches the process) and print what each user was handed.
PACED_USERS = """
from gevent import monkey; monkey.patch_all()
import json, time, gevent
from veltrix_bench.load.arrival import ArrivalSchedule
from veltrix_bench.load.pacing import Pacer

rate, seconds, users, busy = {rate}, {seconds}, {users}, {busy}
start = time.perf_counter() + {lead}
pacer = Pacer(ArrivalSchedule([(seconds, rate)], start))
handed = []

def user(number):
    while (due := pacer.next_slot()) is not None:
        slot, woke_at = due
        handed.append([number, slot.number, woke_at - slot.intended_start,
                       slot.taken_at - slot.intended_start, woke_at - slot.taken_at])
        if busy:
            gevent.sleep(busy)

gevent.joinall([gevent.spawn(user, n) for n in range(users)], timeout=seconds + 5)
print(json.dumps(handed))
"""


def paced(rate: float, seconds: float, users: int, busy: float, lead: float = 0.05) -> list[list]:
    code = PACED_USERS.format(rate=rate, seconds=seconds, users=users, busy=busy, lead=lead)
    return list(json.loads(python_output(code)))


def test_every_send_time_is_handed_out_once_and_on_time() -> None:
    handed = paced(rate=500, seconds=0.6, users=50, busy=0.004)
    assert sorted(number for _, number, *_ in handed) == list(range(300))
    lateness = sorted(late for _, _, late, *_ in handed)
    assert lateness[0] >= -0.001
    assert lateness[len(lateness) // 2] < 0.01  # timers wake on a ~1 ms grain


def test_idle_users_wait_last_in_first_out_so_few_of_many_do_the_work() -> None:
    # answers come back at once: the user that just sent is the one that parked last
    handed = paced(rate=200, seconds=0.5, users=1000, busy=0, lead=0.5)
    assert len(handed) == 100
    assert len({user for user, *_ in handed}) <= 3
    # a user that parked took its time before it was due (so a late wake-up counts as the
    # generator's); one that found its time already due took it then and went at once
    for _, _, _, taken, parked in handed:
        assert (parked > 0 and taken <= 0) or (parked == 0 and taken >= 0)


def test_when_every_user_is_busy_a_due_time_goes_to_the_next_free_one_at_once() -> None:
    handed = paced(rate=2000, seconds=0.3, users=2, busy=0.01)
    # two users 10 ms per request serve 200/s of the 2,000/s asked until the window ends
    assert 0 < len(handed) < 600 * 0.3
    taken_late = [taken > 0 for _, number, _, taken, _ in handed if number > 10]
    assert taken_late and all(taken_late)  # taken after they were due: the in-flight cap's kind


LOOP_BUSY_PAST_A_DUE_TIME = """
from gevent import monkey; monkey.patch_all()
import json, time, gevent
from veltrix_bench.load.arrival import ArrivalSchedule, late_cause
from veltrix_bench.load.pacing import Pacer

start = time.perf_counter() + 0.05
pacer = Pacer(ArrivalSchedule([(1.0, 100)], start))
parked = gevent.spawn(pacer.next_slot)
gevent.sleep(0)  # it parks: its time is not due yet
# the generator's loop is busy (answers, encoding) from before the due time until well after
# it, so the timer that would hand the time to the parked user cannot fire; then a user that
# just finished a request asks and finds the time already due
while time.perf_counter() < start + 0.05:
    pass
slot, woke_at = pacer.next_slot()
started_at = time.perf_counter()
cause = late_cause(slot, woke_at, started_at, 0.01, loop_lag_s=0.0, in_flight_share=1.0)
parked.kill()
print(json.dumps(cause))
"""


def test_a_due_time_taken_while_a_user_was_parked_for_it_is_the_generators_lateness() -> None:
    # a user was waiting for it: only the event loop's lag made it late, not the in-flight cap
    assert json.loads(python_output(LOOP_BUSY_PAST_A_DUE_TIME)) == "generator"
