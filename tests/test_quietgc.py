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


def test_cyclic_garbage_promoted_by_young_collections_is_freed_on_the_full_cadence() -> None:
    """What survives a young collection reaches the oldest generation; cycles that die there
    are freed only by a full collection, which the cadence brings (the engine's RSS grew
    without it)."""
    collector = QuietCollector(50_000, young_on_check=True, growth_mb=1e9, full_every_s=1e-9)
    collector.quiet()
    survivors: list[list[object]] = []
    for _ in range(1_000):
        node: list[object] = []
        node.append(node)
        survivors.append(node)
    gc.collect(1)  # alive at a young collection: promoted to the oldest generation
    survivors.clear()  # now garbage in cycles, which no young collection frees
    before = len(gc.get_objects(generation=2))
    collector.check()
    assert collector.full_collections == 1
    assert len(gc.get_objects(generation=2)) < before - 900


def test_without_the_cadence_only_growth_brings_a_full_collection() -> None:
    collector = QuietCollector(50_000, young_on_check=True, growth_mb=1e9, full_every_s=0.0)
    collector.quiet()
    collector.check()
    assert collector.full_collections == 0
