"""The open model's arrival schedule and the two causes of a late start."""

from __future__ import annotations

import numpy as np
import pytest

from veltrix_bench.load.arrival import (
    ArrivalSchedule,
    LateCause,
    Slot,
    late_cause,
    planned_slots,
)


def all_slots(schedule: ArrivalSchedule, now: float) -> list[Slot]:
    slots = []
    while (slot := schedule.take(now)) is not None:
        slots.append(slot)
    return slots


def test_constant_rate_spaces_intended_times_evenly() -> None:
    schedule = ArrivalSchedule([(2.0, 100.0)], start=10.0)
    times = np.array([slot.intended_start for slot in all_slots(schedule, now=10.0)])
    assert len(times) == 200
    assert times[0] == 10.0
    assert np.allclose(np.diff(times), 0.01)
    assert times[-1] < 12.0


def test_staged_rates_change_spacing_at_each_stage_boundary() -> None:
    schedule = ArrivalSchedule([(1.0, 10.0), (1.0, 20.0), (0.5, 0.0), (1.0, 4.0)], start=0.0)
    times = [slot.intended_start for slot in all_slots(schedule, now=0.0)]
    assert len(times) == 10 + 20 + 0 + 4
    assert times[:10] == pytest.approx([j / 10 for j in range(10)])
    assert times[10:30] == pytest.approx([1.0 + j / 20 for j in range(20)])
    # the 0/s stage is a pause: the next stage starts at 2.5 s
    assert times[30:] == pytest.approx([2.5, 2.75, 3.0, 3.25])
    assert planned_slots([(1.0, 10.0), (1.0, 20.0), (0.5, 0.0), (1.0, 4.0)], 3.5) == 34


def test_a_long_soak_does_not_drift() -> None:
    schedule = ArrivalSchedule([(600.0, 300.0)], start=0.0)
    slots = all_slots(schedule, now=0.0)
    assert len(slots) == 180_000
    assert slots[-1].intended_start == pytest.approx(599.99666666, abs=1e-6)


def test_fractional_rates_and_partial_windows_count_slots_like_the_schedule() -> None:
    assert len(all_slots(ArrivalSchedule([(5.0, 0.5)], start=0.0), now=0.0)) == 3
    assert planned_slots([(5.0, 0.5)], 5.0) == 3
    assert planned_slots([(10.0, 200.0)], 2.5) == 500
    assert planned_slots([(10.0, 200.0)], 60.0) == 2000


def test_no_slot_is_handed_out_once_the_window_is_over() -> None:
    schedule = ArrivalSchedule([(1.0, 100.0)], start=5.0)
    assert schedule.take(5.5) is not None
    assert schedule.take(6.0) is None
    assert schedule.taken == 1


def test_slot_taken_after_it_was_due_is_late_because_of_the_in_flight_cap() -> None:
    slot = Slot(number=0, intended_start=1.000, taken_at=1.050)
    assert late_cause(slot, woke_at=1.050, started_at=1.050, tolerance_s=0.010) is (
        LateCause.IN_FLIGHT_CAP
    )


def test_user_waking_late_from_its_sleep_is_late_because_of_the_generator() -> None:
    slot = Slot(number=0, intended_start=1.000, taken_at=0.500)
    assert late_cause(slot, woke_at=1.020, started_at=1.020, tolerance_s=0.010) is (
        LateCause.GENERATOR
    )


def test_waiting_for_an_idle_player_counts_as_the_in_flight_cap() -> None:
    slot = Slot(number=0, intended_start=1.000, taken_at=0.500)
    assert late_cause(slot, woke_at=1.001, started_at=1.200, tolerance_s=0.010) is (
        LateCause.IN_FLIGHT_CAP
    )


def test_a_start_within_tolerance_is_on_time() -> None:
    slot = Slot(number=0, intended_start=1.000, taken_at=1.009)
    assert late_cause(slot, woke_at=1.009, started_at=1.010, tolerance_s=0.010) is None


def test_a_lagging_generator_loop_takes_the_blame_for_busy_users() -> None:
    slot = Slot(number=0, intended_start=1.000, taken_at=1.050)
    cause = late_cause(slot, 1.050, 1.050, tolerance_s=0.010, loop_lag_s=0.030)
    assert cause is LateCause.GENERATOR
    cause = late_cause(slot, 1.050, 1.050, tolerance_s=0.010, loop_lag_s=0.002)
    assert cause is LateCause.IN_FLIGHT_CAP


def test_users_busy_without_requests_in_flight_mean_a_saturated_generator() -> None:
    slot = Slot(number=0, intended_start=1.000, taken_at=1.050)
    cause = late_cause(slot, 1.050, 1.050, tolerance_s=0.010, in_flight_share=0.3)
    assert cause is LateCause.GENERATOR
    cause = late_cause(slot, 1.050, 1.050, tolerance_s=0.010, in_flight_share=0.95)
    assert cause is LateCause.IN_FLIGHT_CAP
