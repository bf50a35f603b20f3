"""The memory profile from memray: allocations in the window, per event, by layer, by function."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veltrix_bench.models.profiles import (
    FunctionCount,
    FunctionSize,
    MemoryBlock,
    TrackedWindow,
)
from veltrix_bench.profile.errors import CaptureError
from veltrix_bench.profile.frames import Frame
from veltrix_bench.profile.layers import LAYERS, LayerRules
from veltrix_bench.profile.memray_window import WindowState

TOP_FUNCTIONS = 10
MAX_STACK_DEPTH = 10_000  # asking for a depth also skips memray's trimming of the main thread
MB = 1e6
# Deallocation records carry no stack and are not allocations.
_DEALLOCATOR_NAMES = ("FREE", "PYMALLOC_FREE", "MUNMAP")

HOW_COUNTED = (
    "Every allocation (Python allocators traced) made while memray tracked the engine, which "
    "it did only between vbench's start and stop signals around the load (after the "
    "before-load /v1/stats read, until the after-load one), so start-up and shutdown are "
    "excluded; the tracking thread's own allocations are left out."
)


@dataclass(frozen=True)
class FunctionAllocations:
    function: str
    file: str
    allocations: int
    bytes: int


@dataclass(frozen=True)
class AllocationTally:
    """What one windowed capture holds."""

    allocations: int
    bytes: int
    by_layer: dict[str, int]
    by_function: list[FunctionAllocations]
    peak_heap_bytes: int
    peak_rss_bytes: int | None
    window: WindowState
    left_out: int = 0  # the tracking thread's own allocations

    @property
    def window_s(self) -> float:
        assert self.window.started_at is not None and self.window.stopped_at is not None
        return self.window.stopped_at - self.window.started_at


@dataclass(frozen=True)
class MemoryProfile:
    tally: AllocationTally
    acked_events: int | None  # None: not known (per-event figures are then None)
    files: dict[str, str] = field(default_factory=dict)

    def summary_block(self) -> MemoryBlock:
        tally, events = self.tally, self.acked_events
        window_s = tally.window_s

        def per_event(count: int) -> float | None:
            return round(count / events, 2) if events else None

        by_count = sorted(tally.by_function, key=lambda f: f.allocations, reverse=True)
        by_size = sorted(tally.by_function, key=lambda f: f.bytes, reverse=True)
        how = HOW_COUNTED
        if tally.window.stopped_by == "exit":
            how += " The stop signal never came: this window runs on into the engine's shutdown."
        return MemoryBlock(
            allocations=tally.allocations,
            allocations_per_s=round(tally.allocations / window_s, 1) if window_s else None,
            allocations_per_event=per_event(tally.allocations),
            peak_heap_mb=round(tally.peak_heap_bytes / MB, 2),
            per_event_by_layer={layer: per_event(tally.by_layer[layer]) for layer in LAYERS},
            top_by_count=[
                FunctionCount(f.function, f.file, f.allocations) for f in by_count[:TOP_FUNCTIONS]
            ],
            top_by_size=[
                FunctionSize(f.function, f.file, f.bytes) for f in by_size[:TOP_FUNCTIONS]
            ],
            window_s=round(window_s, 3),
            how_counted=how,
            events=events,
            allocations_by_layer=dict(tally.by_layer),
            allocated_mb=round(tally.bytes / MB, 2),
            peak_heap_scope="heap allocated inside the window and still live, at its peak",
            peak_rss_mb=round(tally.peak_rss_bytes / MB, 1) if tally.peak_rss_bytes else None,
            window=TrackedWindow(tally.window.started_at, tally.window.stopped_at),
            window_closed_by=tally.window.stopped_by,
            left_out_allocations=tally.left_out,
            files=dict(self.files),
        )


def read_window_state(capture: Path) -> WindowState:
    """The capture's window, checked: finalized, not cut short since, not in error."""
    state = WindowState.read(capture)
    if state is None:
        raise CaptureError(
            f"{WindowState.path_for(capture).name} is missing or unreadable: {capture.name} was "
            "not written by vbench's windowed memray tracking"
        )
    if state.error:
        raise CaptureError(f"{capture.name}: {state.error}")
    if state.started_at is None:
        raise CaptureError(f"{capture.name}: memray tracking never started")
    if state.stopped_at is None or state.capture_bytes is None:
        raise CaptureError(
            f"{capture.name} was never finalized (the engine died while memray tracked it)"
        )
    try:
        size = capture.stat().st_size
    except OSError as exc:
        raise CaptureError(f"cannot read {capture}: {exc.strerror}") from None
    if size != state.capture_bytes:
        raise CaptureError(
            f"{capture.name} is {size} bytes but was {state.capture_bytes} when memray "
            "finalized it: the file is truncated or was changed"
        )
    return state


def tally_capture(capture: Path, rules: LayerRules) -> AllocationTally:
    """Count every allocation in a windowed capture, by layer (from its stack) and by function.

    Records are read one by one; each distinct (stack, thread) is resolved and classified
    once and its counts summed, so the cost is one pass over the file.
    """
    state = read_window_state(capture)
    try:
        import memray
    except ImportError as exc:
        raise CaptureError(f"cannot read {capture.name}: memray is not available ({exc})") from None
    deallocators = {int(getattr(memray.AllocatorType, name)) for name in _DEALLOCATOR_NAMES}
    try:
        reader = memray.FileReader(capture)
        controller = reader.metadata.main_thread_id
        peak_heap = reader.metadata.peak_memory
        rss = [snapshot.rss for snapshot in reader.get_memory_snapshots()]
        totals: dict[tuple[int, int], list[int]] = {}
        example: dict[tuple[int, int], Any] = {}
        for record in reader.get_allocation_records():
            if record.allocator in deallocators:
                continue
            key = (record.stack_id, record.tid)
            entry = totals.get(key)
            if entry is None:
                totals[key] = [1, record.size]
                example[key] = record
            else:
                entry[0] += 1
                entry[1] += record.size
        stacks = {
            key: [Frame(f, file, line) for f, file, line in record.stack_trace(MAX_STACK_DEPTH)]
            for key, record in example.items()
        }
        thread_names = {key: record.thread_name for key, record in example.items()}
    except (OSError, RuntimeError, ValueError, AssertionError) as exc:
        raise CaptureError(f"cannot read {capture.name}: {exc}") from None
    finally:
        if "reader" in locals():
            reader.close()

    by_layer: Counter[str] = Counter({layer: 0 for layer in LAYERS})
    by_function: dict[tuple[str, str], list[int]] = {}
    allocations = allocated = left_out = 0
    for key, (count, size) in totals.items():
        if key[1] == controller:
            left_out += count
            continue
        allocations += count
        allocated += size
        frames = stacks[key]
        by_layer[rules.stack_layer(frames, thread_names[key])] += count
        leaf = frames[0] if frames else Frame("<no Python frame>", "")
        entry = by_function.setdefault((leaf.function, leaf.short_file), [0, 0])
        entry[0] += count
        entry[1] += size
    return AllocationTally(
        allocations=allocations,
        bytes=allocated,
        by_layer=dict(by_layer),
        by_function=[
            FunctionAllocations(function, file, count, size)
            for (function, file), (count, size) in by_function.items()
        ],
        peak_heap_bytes=peak_heap,
        peak_rss_bytes=max(rss) if rss else None,
        window=state,
        left_out=left_out,
    )


def write_memray_flamegraph(capture: Path, output: Path) -> None:
    """memray's own flame graph of the capture (peak memory), readable offline."""
    command = [sys.executable, "-m", "memray", "flamegraph", "--force", "--no-web"]
    result = subprocess.run(
        [*command, "-o", str(output), str(capture)], capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise CaptureError(f"memray flamegraph failed on {capture.name}: {last[0]}")
