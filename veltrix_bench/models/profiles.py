"""The summary's `memory` and `cpu` blocks: what a profiled run's captures say, by layer."""

from __future__ import annotations

import msgspec


class FunctionCount(msgspec.Struct, frozen=True):
    function: str
    file: str
    allocations: int


class FunctionSize(msgspec.Struct, frozen=True):
    function: str
    file: str
    bytes: int


class TrackedWindow(msgspec.Struct, frozen=True):
    start: float | None
    end: float | None


class MemoryBlock(msgspec.Struct, frozen=True, kw_only=True):
    """Allocations inside the load window (memray with Python allocators traced)."""

    allocations: int
    allocations_per_s: float | None
    allocations_per_event: float | None
    peak_heap_mb: float
    per_event_by_layer: dict[str, float | None]
    top_by_count: list[FunctionCount]
    top_by_size: list[FunctionSize]
    window_s: float
    how_counted: str
    # Beyond the schema's keys:
    events: int | None
    allocations_by_layer: dict[str, int]
    allocated_mb: float
    peak_heap_scope: str
    peak_rss_mb: float | None
    window: TrackedWindow
    window_closed_by: str | None
    left_out_allocations: int
    files: dict[str, str]


class FunctionShare(msgspec.Struct, frozen=True):
    function: str
    share: float


class CpuBlock(msgspec.Struct, frozen=True, kw_only=True):
    """py-spy's busy samples of the engine's threads inside the load window."""

    samples: int
    handler_share: float
    denominator: str
    top_self: list[FunctionShare]
    top_total: list[FunctionShare]
    # Beyond the schema's keys:
    top: list[FunctionShare]  # DESIGN.md's name for top_self
    handler_rule: str
    share_by_layer: dict[str, float]
    rate_hz: int
    window_s: float | None
    left_out_samples: int
    under_memray: bool
    files: dict[str, str]


class ProfileBlocks(msgspec.Struct, frozen=True, kw_only=True):
    """The three summary keys a profiled run fills: each profile's block (None: not taken)
    and why any was skipped."""

    memory: MemoryBlock | None = None
    cpu: CpuBlock | None = None
    profiles_skipped: dict[str, str] = {}
