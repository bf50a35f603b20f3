"""From accepted request to committed result: the queue, the consumer, batching, idempotency."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from veltrix_bench.engine.config import EngineConfig
from veltrix_bench.engine.events import EVENT_TYPES, Event
from veltrix_bench.engine.game import Changes, Game, Result
from veltrix_bench.engine.idempotency import RecentResults
from veltrix_bench.engine.metrics import EngineMetrics
from veltrix_bench.engine.storage import CommitFailed, Store, WriteStopped

log = logging.getLogger("veltrix.pipeline")

# An event that was accepted but is neither committed nor answered from the events table.
NOT_APPLIED = "not_applied"
COMMIT_FAILED = "commit failed"
SHUTTING_DOWN = "engine is shutting down"
ENGINE_FAILED = "engine failed: see its log"
RESULT_COMMIT_FAILED: Result = (NOT_APPLIED, COMMIT_FAILED)
RESULT_SHUTTING_DOWN: Result = (NOT_APPLIED, SHUTTING_DOWN)
RESULT_ENGINE_FAILED: Result = (NOT_APPLIED, ENGINE_FAILED)

# An accepted event, the future its result is set on, and the `fresh` list of the request
# that brought it with its index there: cleared when the request must not count the event as
# acknowledged (not applied, or applied long ago and answered from the events table).
Item = tuple[Event, "asyncio.Future[Result]", list[bool], int]
T = TypeVar("T")


class QueueFull(Exception):
    """The bounded queue cannot take the whole request now: nothing of it was accepted."""


class TooManyEvents(Exception):
    """The request holds more events than the queue can ever take: nothing was accepted."""

    def __init__(self, capacity: int) -> None:
        super().__init__(f"a request may hold at most {capacity} events (queue.capacity)")
        self.capacity = capacity


class ShuttingDown(Exception):
    """The engine is stopping and did not accept the request."""


class Pipeline:
    def __init__(
        self, config: EngineConfig, game: Game, store: Store, metrics: EngineMetrics
    ) -> None:
        self.config = config
        self.game = game
        self.store = store
        self.metrics = metrics
        # A plain deque and one wake-up flag: the consumer is woken once per batch, not per
        # event as asyncio.Queue would (a future and a callback for every put).
        self.waiting: deque[Item] = deque()
        self._wakeup = asyncio.Event()
        # Every id is in at most one of these at any moment between two awaits: committed
        # lately (`recent`), accepted and not yet settled (`pending`), or neither.
        self.recent = RecentResults(config.storage.recent_results)
        self.pending: dict[str, asyncio.Future[Result]] = {}
        self.acknowledged: dict[str, int] = dict.fromkeys(EVENT_TYPES, 0)
        self.duplicates = 0
        self.accepting = True
        self._space = asyncio.Condition()  # for overflow = "wait"
        self._inline_lock = asyncio.Lock()
        self._busy = False
        self._refusing = False  # past the drain's deadline: inline requests are not applied
        self._refused = 0
        # storage.writer = "thread": one writer thread, so SQLite commits never block the
        # event loop, and stay in order; "loop": none, the consumer commits on the loop.
        self._writer: ThreadPoolExecutor | None = None
        if config.storage.writer == "thread":
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veltrix-writer")
        self._consumer: asyncio.Task[None] | None = None
        # A bug while applying a batch (not a failed commit): the engine stops rather than
        # leave requests waiting forever or memory ahead of the database.
        self.failure: BaseException | None = None
        self.on_failure: Callable[[], None] = lambda: None

    @property
    def depth(self) -> int:
        return len(self.waiting)

    def start(self) -> None:
        if self.config.processing.mode == "async":
            self._consumer = asyncio.get_running_loop().create_task(self._consume())

    async def submit(self, events: list[Event]) -> tuple[list[Result], list[bool]]:
        """Results in request order, and which of them this request applied for the first time.

        A result may be RESULT_SHUTTING_DOWN or RESULT_COMMIT_FAILED: that event was not
        applied, while others of the request may have been.
        """
        if not self.accepting:
            for event in events:
                self.metrics.count_rejected(event.type, "shutting_down")
            raise ShuttingDown
        capacity = self.config.queue.capacity
        if capacity and len(events) > capacity:
            raise TooManyEvents(capacity)
        loop = asyncio.get_running_loop()
        recent, pending = self.recent, self.pending
        waits: list[asyncio.Future[Result]] = []
        fresh: list[bool] = []
        new_items: list[Item] = []
        for event in events:
            known = recent.get(event.id)
            if known is not None:
                done: asyncio.Future[Result] = loop.create_future()
                done.set_result(known)
                waits.append(done)
                fresh.append(False)
                self.duplicates += 1
                continue
            in_flight = pending.get(event.id)
            if in_flight is not None:  # sent before, by this request or another: its result
                waits.append(in_flight)
                fresh.append(False)
                self.duplicates += 1
                continue
            future: asyncio.Future[Result] = loop.create_future()
            pending[event.id] = future
            new_items.append((event, future, fresh, len(fresh)))
            waits.append(future)
            fresh.append(True)
        if new_items:
            await self._admit(new_items)
        if len(waits) == 1:  # the usual request: one event, no gathering machinery
            return [await waits[0]], fresh
        results = list(await asyncio.gather(*waits))
        return results, fresh

    async def _admit(self, items: list[Item]) -> None:
        capacity = self.config.queue.capacity
        if capacity and len(self.waiting) + len(items) > capacity:
            if self.config.queue.overflow == "reject":
                for event, _, _, _ in items:
                    self.pending.pop(event.id, None)  # no await since they went in: unseen
                    self.metrics.count_rejected(event.type, "queue_full")
                raise QueueFull
            async with self._space:
                await self._space.wait_for(
                    lambda: not self.accepting or len(self.waiting) + len(items) <= capacity
                )
            if not self.accepting:  # a shutdown began while this request waited for space
                self._answer(items, RESULT_SHUTTING_DOWN, "shutting_down")
                return
        if self.config.processing.mode == "inline":
            async with self._inline_lock:
                if self._refusing:  # past the drain's deadline: not applied
                    self._refused += self._answer(items, RESULT_SHUTTING_DOWN, "shutting_down")
                    return
                await self._process_or_fail(items)
            return
        self.waiting.extend(items)
        if not self._wakeup.is_set():
            self._wakeup.set()

    async def _consume(self) -> None:
        batch_max = self.config.processing.batch_max_size
        batch_wait = self.config.processing.batch_max_wait_ms / 1000
        waiting, wakeup = self.waiting, self._wakeup
        while True:
            if not waiting:
                wakeup.clear()
                await wakeup.wait()
                continue
            self._busy = True
            if batch_max > 1 and batch_wait and len(waiting) < batch_max:
                await asyncio.sleep(batch_wait)  # let a batch gather
            take = min(batch_max, len(waiting))
            batch = [waiting.popleft() for _ in range(take)]
            if not batch:  # a shutdown failed what was queued while the batch gathered
                self._busy = False
                continue
            if self.config.queue.overflow == "wait":
                async with self._space:
                    self._space.notify_all()
            try:
                if not await self._process_or_fail(batch):
                    return
            finally:
                self._busy = False
            if self._writer is None:
                # The commit ran on the loop without giving way: let the answers out and new
                # requests in before the next batch of a backlog.
                await asyncio.sleep(0)

    async def _process_or_fail(self, batch: list[Item]) -> bool:
        """Process `batch`; on anything but a commit's own failure (a bug), answer the batch
        and everything queued not applied, stop taking events and ask the engine to stop.
        Memory may then be ahead of the database, so the engine must not go on: restarted, it
        rebuilds its state from what was committed. Returns False once failed."""
        if self.failure is not None:
            self._answer(batch, RESULT_ENGINE_FAILED, "engine_failed")
            return False
        try:
            await self._process(batch)
        except Exception as exc:
            log.critical("applying a batch of %d events failed; stopping", len(batch), exc_info=exc)
            self.failure = exc
            self.accepting = False
            self._answer(batch, RESULT_ENGINE_FAILED, "engine_failed")
            items = list(self.waiting)
            self.waiting.clear()
            self._answer(items, RESULT_ENGINE_FAILED, "engine_failed")
            self.on_failure()
            return False
        return True

    async def _process(self, batch: list[Item]) -> None:
        """Apply and commit `batch`. Each event ends committed with its result, answered from
        the events table, or not applied; memory then holds exactly what the database holds."""
        while batch:
            changes = Changes()
            results = self.game.apply([item[0] for item in batch], changes)
            try:
                await self._on_writer(self.store.write, changes)
            except CommitFailed as failure:
                batch = await self._after_failed_commit(batch, changes, results, failure)
                continue
            except WriteStopped as stopped:  # past the drain deadline: the rest not applied
                rest = self._keep_committed(batch, changes, results, stopped.committed)
                self._refused += self._answer(rest, RESULT_SHUTTING_DOWN, "shutting_down")
                return
            self._settle(batch, results)
            return

    def _settle(self, items: list[Item], results: list[Result]) -> None:
        """Committed: remember each result for its id and answer it."""
        self.metrics.batch_size.observe(len(items))
        remember = self.recent.add
        settled = self.pending.pop
        count_processed = self.metrics.count_processed
        for (event, future, _, _), result in zip(items, results, strict=True):
            remember(event.id, result)
            settled(event.id, None)
            count_processed(event.type, result[0])
            if not future.done():
                future.set_result(result)

    async def _after_failed_commit(
        self, batch: list[Item], changes: Changes, results: list[Result], failure: CommitFailed
    ) -> list[Item]:
        """Take back what was not committed; returns the events to apply again, if any.

        An id evicted from `recent` is applied again as if new, and its commit then fails on
        the events table's primary key: such ids are answered with their stored result, and
        the others of the batch are applied again without them. Any other failure leaves
        the events not applied.
        """
        rest = self._keep_committed(batch, changes, results, failure.committed)
        try:
            stored = await self._on_writer(self.store.results_of, [item[0].id for item in rest])
        except Exception:  # noqa: BLE001 - the failure to report is the commit's
            stored = {}
        if not stored:
            log.error("%s; %d events not applied", failure, len(rest))
            self._answer(rest, RESULT_COMMIT_FAILED, "commit_failed")
            return []
        again = []
        for item in rest:
            event, future, fresh, index = item
            result = stored.get(event.id)
            if result is None:
                again.append(item)
                continue
            self.pending.pop(event.id, None)
            self.recent.add(event.id, result)
            self.duplicates += 1
            fresh[index] = False
            if not future.done():
                future.set_result(result)
        return again

    def _keep_committed(
        self, batch: list[Item], changes: Changes, results: list[Result], committed: int
    ) -> list[Item]:
        """A write of `batch` ended after its first `committed` events (commit per event):
        take back the others from memory, answer those committed; returns the others."""
        self.game.undo(changes, committed)  # before any await: no one sees the undone state
        if committed:
            self._settle(batch[:committed], results[:committed])
        return batch[committed:]

    def _answer(self, items: list[Item], result: Result, cause: str) -> int:
        """Answer these events `result` (not applied); returns how many were unanswered."""
        answered = 0
        for event, future, fresh, index in items:
            self.pending.pop(event.id, None)
            fresh[index] = False
            if not future.done():
                self.metrics.count_rejected(event.type, cause)
                future.set_result(result)
                answered += 1
        return answered

    def count_acknowledged(self, events: list[Event], fresh: list[bool]) -> None:
        acknowledged = self.acknowledged
        if len(events) == 1:
            if fresh[0]:
                acknowledged[events[0].type] += 1
            return
        for event, is_new in zip(events, fresh, strict=True):
            if is_new:
                acknowledged[event.type] += 1

    async def persisted_by_type(self) -> dict[str, int]:
        return await self._on_writer(self.store.persisted_by_type)

    async def _on_writer(self, work: Callable[..., T], *args: Any) -> T:
        """Run SQLite work where storage.writer says: the writer thread, or right here."""
        if self._writer is None:
            return work(*args)
        return await asyncio.get_running_loop().run_in_executor(self._writer, work, *args)

    async def drain(self, timeout: float) -> int:
        """Stop taking events, finish the queued ones; answer those left after `timeout`
        RESULT_SHUTTING_DOWN. Returns how many events were so answered."""
        self.accepting = False
        async with self._space:  # requests waiting for queue space: refused, not queued
            self._space.notify_all()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self.pending or self._busy) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        # Past the deadline: what is still queued is not applied (its requests get 503) ...
        failed = self._fail_queued()
        self._refusing = True
        self.store.stopping.set()
        # ... but what a batch taken before committed stays: a commit cannot be taken back
        # (a write per event stops before its next event).
        while self._busy:
            await asyncio.sleep(0.01)
        async with self._inline_lock:  # inline: the request being applied finishes, the rest
            pass  # queued on the lock behind it are refused
        if self._consumer is not None:
            self._consumer.cancel()
        return failed + self._fail_queued() + self._refused

    def _fail_queued(self) -> int:
        items = list(self.waiting)
        self.waiting.clear()
        return self._answer(items, RESULT_SHUTTING_DOWN, "shutting_down")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
        self.store.close()
