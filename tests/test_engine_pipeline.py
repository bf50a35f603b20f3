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

from tests.engine_state import state_in_database, state_in_memory
from veltrix_bench.engine.config import EngineConfig, load_config
from veltrix_bench.engine.events import Event, decode_events
from veltrix_bench.engine.game import Changes, Game, Result
from veltrix_bench.engine.metrics import EngineMetrics
from veltrix_bench.engine.pipeline import RESULT_SHUTTING_DOWN, Pipeline, QueueFull, ShuttingDown
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
    """`count` joins of distinct players: players 1..2000 of hunt 1, then of hunt 2, ..."""
    body = [
        {"id": f"j{i}", "type": "join", "hunt": 1 + (i - 1) // 2000, "player": 1 + (i - 1) % 2000}
        for i in range(1, count + 1)
    ]
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


# How one request of 3,000 events is committed, event by event: one batch per event, all in
# one batch, or applied inline as one request.
ONE_COMMIT_PER_EVENT = {
    "a batch per event": {},
    "one batch of all": {"processing": {"batch_max_size": 3000}},
    "inline": {"processing": {"mode": "inline"}},
}


@pytest.mark.parametrize("batching", list(ONE_COMMIT_PER_EVENT))
def test_a_drain_deadline_stops_a_long_write_between_two_commits(
    tmp_path: Path, batching: str
) -> None:
    # writer = "thread" (default's): with "loop", nothing else runs, not even the shutdown,
    # until the write returns
    config = load_config("default").with_overrides(**ONE_COMMIT_PER_EVENT[batching])
    db = tmp_path / "v.db"
    commits = 0

    def slow_commit(statement: str) -> None:  # a disk on which each commit takes 2 ms
        nonlocal commits
        if statement == "COMMIT":
            commits += 1
            time.sleep(0.002)

    async def play() -> tuple[float, list[Result], Pipeline]:
        pipeline, _ = _pipeline(config, db)
        pipeline.store.connection.set_trace_callback(slow_commit)
        pipeline.start()
        request = asyncio.ensure_future(pipeline.submit(_joins(3000)))
        while commits < 10:
            await asyncio.sleep(0.001)
        started = time.monotonic()
        await pipeline.drain(0.1)
        took = time.monotonic() - started
        results, _ = await asyncio.wait_for(request, 5)
        return took, results, pipeline

    took, results, pipeline = asyncio.run(play())
    # not the ~6 s the whole request would take: the write stopped at the next event
    assert took < 1.0
    applied = results.index(RESULT_SHUTTING_DOWN)
    assert 10 <= applied < 3000
    assert results == [("applied", None)] * applied + [RESULT_SHUTTING_DOWN] * (3000 - applied)
    assert state_in_memory(pipeline.game) == state_in_database(db)
    assert not pipeline.pending
    pipeline.close()
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT COUNT(*) FROM events").fetchone() == (applied,)


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


class BuggyGame(Game):
    """The real game with one bug planted: applying player 13's events raises."""

    def apply(self, events: list[Event], changes: Changes) -> list[Result]:
        if any(event.player == 13 for event in events):
            raise KeyError("a planted bug")
        return super().apply(events, changes)


@pytest.mark.parametrize("mode", ["async", "inline"])
def test_a_bug_while_applying_answers_every_waiting_request_and_stops_the_engine(
    tmp_path: Path, mode: str
) -> None:
    config = load_config("tuned").with_overrides(processing={"mode": mode, "batch_max_wait_ms": 20})
    store = Store(config.storage, tmp_path / "v.db")
    pipeline = Pipeline(config, BuggyGame(World.generate(config.world)), store, EngineMetrics(int))
    stops: list[bool] = []
    pipeline.on_failure = lambda: stops.append(True)

    async def play() -> list[list[Result] | BaseException]:
        pipeline.start()
        requests = [
            pipeline.submit(_joins(2)),  # players 1 and 2: before the bug, or in its batch
            pipeline.submit(
                decode_events(b'{"id": "b", "type": "join", "hunt": 1, "player": 13}', config.world)
            ),
            pipeline.submit(_joins(4)[2:]),  # after it: in its batch, queued, or refused
        ]
        answered = await asyncio.wait_for(
            asyncio.gather(*requests, return_exceptions=True), timeout=10
        )
        with pytest.raises(ShuttingDown):
            await pipeline.submit(_joins(5)[4:])  # nothing is taken after the failure
        await pipeline.drain(1.0)
        return [a if isinstance(a, BaseException) else a[0] for a in answered]

    answered = asyncio.run(play())
    pipeline.close()
    assert stops == [True] and isinstance(pipeline.failure, KeyError)
    assert answered[1] == [("not_applied", "engine failed: see its log")]
    database = sqlite3.connect(tmp_path / "v.db")
    in_database = {row[0] for row in database.execute("SELECT id FROM events")}
    for results, ids in zip(answered, (["j1", "j2"], ["b"], ["j3", "j4"]), strict=True):
        if isinstance(results, ShuttingDown):  # refused whole: none of it applied
            assert not in_database & set(ids)
            continue
        assert not isinstance(results, BaseException)
        for (status, _), event_id in zip(results, ids, strict=True):
            # every event has an answer; an applied one is in the database, a refused one not
            assert (status != "not_applied") == (event_id in in_database)
