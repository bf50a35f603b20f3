"""The delay fault honours fractions of a millisecond on either event loop (timers do not); the
CPU fault spends what it is asked on the CPU, holding the event loop."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from tests.conftest import EngineFactory, post_events
from veltrix_bench.engine.server import EventDelay, _loop_factory, busy_wait

WAITS = 200


def _timed(wait: Callable[[], Awaitable[None]], event_loop: str) -> list[float]:
    """Seconds each of WAITS consecutive waits took, on that event loop."""

    async def waits() -> list[float]:
        taken = []
        for _ in range(WAITS):
            began = time.perf_counter()
            await wait()
            taken.append(time.perf_counter() - began)
        return taken

    with asyncio.Runner(loop_factory=_loop_factory(event_loop)) as runner:
        return runner.run(waits())


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
def test_a_fractional_delay_is_waited_in_full_and_not_rounded_up(event_loop: str) -> None:
    """Every wait lasts at least 0.4 ms (a sleep never ends early, however busy the machine);
    the median stays well under the millisecond asyncio's timers would round it up to."""
    delay = EventDelay(0.4)
    try:
        taken = _timed(delay.wait, event_loop)
    finally:
        delay.close()
    assert min(taken) >= 0.0004
    assert statistics.median(taken) < 0.0009


def test_uvloops_timer_drops_a_delay_under_half_a_millisecond() -> None:
    """Why the fault sleeps on a thread: the same 0.4 ms as an asyncio.sleep does not wait."""
    taken = _timed(lambda: asyncio.sleep(0.0004), "uvloop")
    assert statistics.median(taken) < 0.0003


def test_the_cpu_fault_spends_its_time_on_the_cpu() -> None:
    """A busy wait, not a sleep: the process's CPU time grows by what was asked."""
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    for _ in range(50):
        busy_wait(0.0004)
    cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
    assert wall >= 50 * 0.0004
    assert cpu >= 0.5 * 50 * 0.0004  # the rest: this machine's other processes, if any


def test_the_cpu_fault_holds_the_event_loop_for_each_post(engine_factory: EngineFactory) -> None:
    """Requests sent together are served one after another: N posts take N x the CPU fault."""
    engine = engine_factory(faults={"event_cpu_ms": 60})

    async def together() -> float:
        async with aiohttp.ClientSession() as session:
            began = time.perf_counter()
            answers = await asyncio.gather(*(
                session.post(f"{engine.url}/v1/events",
                             json={"id": f"c{i}", "type": "join", "hunt": 1, "player": i})
                for i in range(1, 5)
            ))  # fmt: skip
            assert [a.status for a in answers] == [200] * 4
            return time.perf_counter() - began

    assert asyncio.run(together()) >= 4 * 0.060
    assert post_events(engine, {"id": "c9", "type": "join", "hunt": 1, "player": 9})[0] == 200
