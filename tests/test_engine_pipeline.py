"""The pipeline with a real game and a real SQLite file: where commits run, and shutdown."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from veltrix_bench.engine.config import EngineConfig, load_config
from veltrix_bench.engine.events import Event, decode_events
from veltrix_bench.engine.game import Changes, Game, Result
from veltrix_bench.engine.metrics import EngineMetrics
from veltrix_bench.engine.pipeline import RESULT_SHUTTING_DOWN, Pipeline, QueueFull
from veltrix_bench.engine.storage import Store
from veltrix_bench.engine.world import World


class WatchedStore(Store):
    """The real store, noting for every commit which thread made it and how far a ticker on
    the event loop had got."""

    def __init__(self, config: EngineConfig, path: Path, commit_s: float = 0.0) -> None:
        super().__init__(config.storage, path)
        self.commit_s = commit_s  # added to every commit: a disk this slow, whatever the disk
        self.ticks = 0
        self.commits: list[tuple[int, int]] = []  # (thread id, ticks), one per commit

    def write(self, changes: Changes) -> None:
        self.commits.append((threading.get_ident(), self.ticks))
        time.sleep(self.commit_s)
        super().write(changes)


def _pipeline(
    config: EngineConfig, db: Path, commit_s: float = 0.0
) -> tuple[Pipeline, WatchedStore]:
    store = WatchedStore(config, db, commit_s)
    game = Game(World.generate(config.world))
    metrics = EngineMetrics(lambda: 0)
    return Pipeline(config, game, store, metrics), store


def _joins(count: int) -> list[Event]:
    body = [{"id": f"j{p}", "type": "join", "hunt": 1, "player": p} for p in range(1, count + 1)]
    return decode_events(json.dumps(body).encode(), load_config("tuned").world)


async def _ticker(store: WatchedStore) -> None:
    while True:
        store.ticks += 1
        await asyncio.sleep(0)


@pytest.mark.parametrize("writer", ["loop", "thread"])
def test_storage_writer_says_which_thread_commits(tmp_path: Path, writer: str) -> None:
    config = load_config("tuned").with_overrides(storage={"writer": writer})

    async def play() -> tuple[int, WatchedStore]:
        pipeline, store = _pipeline(config, tmp_path / "v.db")
        pipeline.start()
        results = await asyncio.gather(*(pipeline.submit([e]) for e in _joins(50)))
        assert all(r == [("applied", None)] for r, _ in results)
        pipeline.close()
        return threading.get_ident(), store

    loop_thread, store = asyncio.run(play())
    on_loop = [thread == loop_thread for thread, _ in store.commits]
    assert on_loop and all(on_loop) == (writer == "loop") and any(on_loop) == (writer == "loop")


def test_with_commits_on_the_loop_other_tasks_run_between_the_batches_of_a_backlog(
    tmp_path: Path,
) -> None:
    config = load_config("tuned")
    assert config.storage.writer == "loop"

    async def play() -> WatchedStore:
        pipeline, store = _pipeline(config, tmp_path / "v.db")
        ticker = asyncio.get_running_loop().create_task(_ticker(store))
        submits = [asyncio.ensure_future(pipeline.submit([e])) for e in _joins(2000)]
        await asyncio.sleep(0)  # every event queued before the consumer starts: a backlog
        pipeline.start()
        await asyncio.gather(*submits)
        ticker.cancel()
        pipeline.close()
        return store

    store = asyncio.run(play())
    ticks = [t for _, t in store.commits]
    assert len(ticks) >= 2000 // config.processing.batch_max_size
    # the ticker ran between every two commits: the consumer gave way after each batch
    assert all(later > earlier for earlier, later in itertools.pairwise(ticks))


# How requests can be held when a shutdown's drain deadline passes: queued for the consumer,
# waiting for space in a full queue (overflow = "wait"), or applied one request at a time.
HOLDS = {
    "queued": {},
    "waiting_for_space": {"queue": {"capacity": 10, "overflow": "wait"}},
    "inline": {"processing": {"mode": "inline"}},
}


@pytest.mark.parametrize("writer", ["thread", "loop"])
@pytest.mark.parametrize("hold", list(HOLDS))
def test_drain_answers_every_request_and_applies_nothing_past_its_deadline(
    tmp_path: Path, writer: str, hold: str
) -> None:
    # one event per commit, each commit 5 ms: 200 requests take ~1 s, the deadline is 0.1 s
    config = load_config("default").with_overrides(storage={"writer": writer}, **HOLDS[hold])
    db = tmp_path / "v.db"

    async def play() -> tuple[float, int, list[Result]]:
        pipeline, store = _pipeline(config, db, commit_s=0.005)
        pipeline.start()
        submits = [asyncio.ensure_future(pipeline.submit([e])) for e in _joins(200)]
        while not store.commits:
            await asyncio.sleep(0.001)
        started = time.monotonic()
        failed = await pipeline.drain(0.1)
        took = time.monotonic() - started
        answers = await asyncio.wait_for(asyncio.gather(*submits), 5)
        pipeline.close()
        return took, failed, [results[0] for results, _ in answers]

    took, failed, answers = asyncio.run(play())
    refused = [a for a in answers if a == RESULT_SHUTTING_DOWN]
    applied = [a for a in answers if a == ("applied", None)]
    assert len(applied) + len(refused) == 200  # every request answered, one way or the other
    if hold == "inline" and writer == "loop":
        # each request was applied and committed without yielding, as its task first ran:
        # none was ever held, so none was left to refuse
        assert not refused
    else:
        assert 0 < len(refused) < 200
    assert failed <= len(refused)  # a request refused while it waited for space was not queued
    assert took < 0.6
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT COUNT(*) FROM events").fetchone() == (len(applied),)


@pytest.mark.parametrize("writer", ["loop", "thread"])
def test_inline_processing_applies_and_commits_every_request(tmp_path: Path, writer: str) -> None:
    config = load_config("tuned").with_overrides(
        processing={"mode": "inline"}, storage={"writer": writer}
    )
    db = tmp_path / "v.db"

    async def play() -> list[list[Result]]:
        pipeline, _ = _pipeline(config, db)
        pipeline.start()
        joins = _joins(20)
        answers = await asyncio.gather(*(pipeline.submit([e]) for e in joins))
        again = await pipeline.submit(joins[:1])  # a repeated id: the first result, once
        pipeline.close()
        return [results for results, _ in [*answers, again]]

    answers = asyncio.run(play())
    assert all(results == [("applied", None)] for results in answers)
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT COUNT(*) FROM events").fetchone() == (20,)


def test_a_full_bounded_queue_refuses_a_request_that_fits_once_it_drains(tmp_path: Path) -> None:
    config = load_config("default").with_overrides(queue={"capacity": 4})

    async def play() -> tuple[list[Result], list[Result]]:
        pipeline, store = _pipeline(config, tmp_path / "v.db", commit_s=0.05)
        pipeline.start()
        joins = _joins(6)
        first = asyncio.ensure_future(pipeline.submit(joins[:1]))
        while not store.commits:  # the consumer holds the first event in its slow commit
            await asyncio.sleep(0.001)
        queued = asyncio.ensure_future(pipeline.submit(joins[1:5]))  # fills the queue
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):
            await pipeline.submit(joins[5:])
        await asyncio.gather(first, queued)
        later, _ = await pipeline.submit(joins[5:])  # the same request, once there is room
        pipeline.close()
        return (await queued)[0], later

    queued, later = asyncio.run(play())
    assert queued == [("applied", None)] * 4 and later == [("applied", None)]
