"""The delay fault waits on an event-loop timer, serving other requests meanwhile, in whole
milliseconds (what the timers honour); the CPU fault spends what it is asked on the CPU, holding
the event loop."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from tests.conftest import EngineFactory, post_events
from veltrix_bench.engine.config import load_config
from veltrix_bench.engine.server import _loop_factory, busy_wait
from veltrix_bench.errors import ConfigError

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


def _posts_together(url: str, count: int) -> list[float]:
    """Seconds each of `count` joins sent at once took to be answered."""

    async def one(session: aiohttp.ClientSession, player: int) -> float:
        began = time.perf_counter()
        body = {"id": f"d{player}", "type": "join", "hunt": 1, "player": player}
        async with session.post(f"{url}/v1/events", json=body) as answer:
            assert answer.status == 200
        return time.perf_counter() - began

    async def together() -> list[float]:
        async with aiohttp.ClientSession() as session:
            return list(await asyncio.gather(*(one(session, p) for p in range(1, count + 1))))

    return asyncio.run(together())


def test_the_delay_fault_waits_without_holding_the_event_loop(
    engine_factory: EngineFactory,
) -> None:
    """Eight posts sent together each wait the delay, side by side: all are answered after
    about one delay, not eight (what the CPU fault does)."""
    engine = engine_factory(faults={"event_delay_ms": 200})
    taken = _posts_together(engine.url, 8)
    assert min(taken) >= 0.195
    assert max(taken) < 4 * 0.200


@pytest.mark.parametrize("value", [0.4, 1.5, -1])
def test_the_delay_fault_takes_whole_milliseconds(value: float) -> None:
    with pytest.raises(ConfigError, match="faults.event_delay_ms"):
        load_config("tuned").with_overrides(faults={"event_delay_ms": value})


def test_uvloops_timer_drops_a_delay_under_half_a_millisecond() -> None:
    """Why the delay fault takes whole milliseconds: 0.4 ms on uvloop's timer does not wait."""
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
