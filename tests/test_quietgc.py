"""The quiet garbage-collector policy: freeze, young collections only, a full one past a margin."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from veltrix_bench.quietgc import NEVER, QuietCollector


@pytest.fixture(autouse=True)
def restore_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def _make_cycles(count: int) -> None:
    for _ in range(count):
        node: list[object] = []
        node.append(node)


def test_quiet_freezes_the_heap_and_stops_old_generation_collections() -> None:
    QuietCollector(50_000).quiet()
    assert gc.get_threshold() == (50_000, NEVER, NEVER)
    assert gc.get_freeze_count() > 0


def test_a_check_collects_the_young_generations_when_asked() -> None:
    collector = QuietCollector(50_000, young_on_check=True, growth_mb=1e9)
    collector.quiet()
    _make_cycles(1_000)
    assert gc.get_count()[0] >= 1_000
    collector.check()
    assert gc.get_count()[0] < 1_000
    assert collector.full_collections == 0


def test_growth_past_the_margin_triggers_one_logged_full_collection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    collector = QuietCollector(50_000, growth_mb=0.0)
    collector.quiet()
    collector.check()
    assert collector.full_collections == 1
    assert "full garbage collection freed" in caplog.text
