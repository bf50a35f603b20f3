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
from veltrix_bench.engine.pipeline import Pipeline, ShuttingDown
from veltrix_bench.engine.storage import Store
from veltrix_bench.engine.world import World


class WatchedStore(Store):
    """The real store, noting for every commit which thread made it and how far a ticker on
    the event loop had got."""

    def __init__(self, config: EngineConfig, path: Path) -> None:
        super().__init__(config.storage, path)
        self.ticks = 0
        self.commits: list[tuple[int, int]] = []  # (thread id, ticks), one per commit

    def write(self, changes: Changes) -> None:
        self.commits.append((threading.get_ident(), self.ticks))
        super().write(changes)


def _pipeline(config: EngineConfig, db: Path) -> tuple[Pipeline, WatchedStore]:
    store = WatchedStore(config, db)
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


@pytest.mark.parametrize("writer", ["thread", "loop"])
def test_drain_fails_what_is_still_queued_at_its_deadline_and_commits_the_rest(
    tmp_path: Path, writer: str
) -> None:
    # default: one fsync-ed commit per event, so 400 queued events take far longer than 0.2 s
    config = load_config("default").with_overrides(storage={"writer": writer})
    db = tmp_path / "v.db"

    async def play() -> tuple[float, int, list[Result | BaseException]]:
        pipeline, _ = _pipeline(config, db)
        submits = [asyncio.ensure_future(pipeline.submit([e])) for e in _joins(400)]
        await asyncio.sleep(0)
        pipeline.start()
        await asyncio.sleep(0.05)
        started = time.monotonic()
        failed = await pipeline.drain(0.2)
        took = time.monotonic() - started
        answers = await asyncio.gather(*submits, return_exceptions=True)
        pipeline.close()
        return took, failed, [a if isinstance(a, BaseException) else a[0][0] for a in answers]

    took, failed, answers = asyncio.run(play())
    refused = [a for a in answers if isinstance(a, ShuttingDown)]
    applied = [a for a in answers if a == ("applied", None)]
    assert took < 2.0
    assert 0 < failed == len(refused) < 400
    assert len(applied) + len(refused) == 400
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT COUNT(*) FROM events").fetchone() == (len(applied),)


@pytest.mark.parametrize("writer", ["loop", "thread"])
def test_inline_processing_applies_and_commits_every_request(
    tmp_path: Path, writer: str
) -> None:
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
