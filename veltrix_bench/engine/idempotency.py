"""The results of the latest events by id, bounded; older ids are answered from the database."""

from __future__ import annotations

from collections import deque

from veltrix_bench.engine.game import Result


class RecentResults:
    """The first result of each of the last `capacity` committed events, by event id.

    A repeated id found here is answered at once. An id evicted from here is still in the
    events table with its result: its commit fails on the table's primary key, and the
    pipeline answers it from there (see `Pipeline._process`). So memory stays flat
    however long the engine runs, and no id is ever applied twice.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._results: dict[str, Result] = {}
        self._order: deque[str] = deque()  # oldest first: what to evict next

    def get(self, event_id: str) -> Result | None:
        return self._results.get(event_id)

    def add(self, event_id: str, result: Result) -> None:
        self._results[event_id] = result
        order = self._order
        order.append(event_id)
        if len(order) > self.capacity:
            del self._results[order.popleft()]

    def __len__(self) -> int:
        return len(self._results)
