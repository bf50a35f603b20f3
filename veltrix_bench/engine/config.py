"""Engine configuration: the TOML schema, the shipped presets, and loading with clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from veltrix_bench.errors import ConfigError
from veltrix_bench.tomlfile import read_toml, validate

PRESET_DIR = Path(__file__).parent / "presets"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QueueConfig(_Section):
    capacity: int = Field(0, ge=0, description="0 = unbounded")
    overflow: Literal["reject", "wait"] = "reject"
    retry_after_s: int = Field(1, ge=1, le=3600)


class ProcessingConfig(_Section):
    mode: Literal["async", "inline"] = "async"
    batch_max_size: int = Field(1, ge=1, le=100_000)
    batch_max_wait_ms: float = Field(0.0, ge=0, le=10_000)


class StorageConfig(_Section):
    path: str = "veltrix.db"
    commit: Literal["event", "batch"] = "event"
    journal_mode: Literal["delete", "truncate", "persist", "memory", "wal", "off"] = "delete"
    synchronous: Literal["off", "normal", "full", "extra"] = "full"
    # WAL only. "auto": SQLite checkpoints inside the commit that fills wal_autocheckpoint
    # pages, stalling that commit; "background": a thread of its own checkpoints every
    # checkpoint_every_ms while the writer goes on.
    checkpoint: Literal["auto", "background"] = "auto"
    checkpoint_every_ms: float = Field(500.0, gt=0, le=600_000)
    # "thread": SQLite's work runs on a writer thread of its own, off the event loop;
    # "loop": on the event loop itself, between requests: no hop to another thread and no
    # hand-over of the GIL for every row. Suits commits that do not wait for the disk
    # (WAL with synchronous = normal); with synchronous = full every commit's fsync would
    # stall every request.
    writer: Literal["thread", "loop"] = "thread"
    # How many of the latest events' results are kept in memory to answer a repeated id at
    # once. An older id is still answered with its first result (from the events table),
    # at the cost of one failed commit and a lookup: memory stays bounded however long the
    # engine runs.
    recent_results: int = Field(100_000, ge=1, le=100_000_000)


class HttpConfig(_Section):
    max_body_bytes: int = Field(1_048_576, ge=256, le=1_073_741_824)
    decoder: Literal["json", "msgspec"] = "json"  # msgspec: one typed object per event
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"  # uvloop: libuv under the same API
    # A connection must deliver a complete request head within header_timeout_s of opening or
    # of its last answer, or it is closed: a half-sent head (or an idle keep-alive connection)
    # holds nothing for longer. Once the head is in, the body must arrive within
    # body_timeout_s, or the request is answered 408.
    header_timeout_s: float = Field(60.0, gt=0, le=3600)
    body_timeout_s: float = Field(30.0, gt=0, le=3600)


class RuntimeConfig(_Section):
    # "quiet": once started, freeze the heap, collect gen0 every gen0_threshold net
    # allocations (of tracked objects) and gen0+gen1 once a second; a full collection every
    # full_every_s, and whenever the peak RSS grew by 256 MB
    gc: Literal["default", "quiet"] = "default"
    gen0_threshold: int = Field(50_000, ge=100, le=10_000_000)
    # "quiet": a full collection this often (0: only past the growth margin); it frees the
    # cyclic garbage the young collections promote, walking only what was made after start-up
    full_every_s: float = Field(60.0, ge=0, le=86_400)


class WorldConfig(_Section):
    seed: int = 7
    hunts: int = Field(4, ge=1, le=10_000)
    players: int = Field(2000, ge=1, le=10_000_000)
    places_per_hunt: int = Field(10, ge=1, le=10_000)
    clues_per_hunt: int = Field(5, ge=1, le=10_000)
    treasures_per_hunt: int = Field(3, ge=1, le=10_000)


class FaultConfig(_Section):
    # A wait per POST on an event-loop timer, the loop serving others meanwhile: a handler that
    # now waits on something slower. Whole milliseconds: uvloop rounds a timer to the nearest
    # one and asyncio up to the next. (Sleeping on a thread honoured fractions, but made p99
    # 1.2-1.5x at any delay, likely the hop back to a busy loop: benchmarks/README.md,
    # gate_power.)
    event_delay_ms: int = Field(0, ge=0, le=60_000)
    # CPU spent on the event loop per POST (a busy wait): a handler that got slower.
    event_cpu_ms: float = Field(0.0, ge=0, le=1_000)
    stall_ms: float = Field(0.0, ge=0, le=60_000)
    stall_every_s: float = Field(0.0, ge=0, le=3600)
    # A commit holding an event whose id starts with this prefix fails (after its rows were
    # written, so SQLite rolls them back): for testing that a failed commit changes nothing.
    # Empty: off.
    commit_fail_prefix: str = Field("", max_length=200)


class ShutdownConfig(_Section):
    drain_timeout_s: float = Field(10.0, ge=0, le=600)


class EngineConfig(_Section):
    name: str = "custom"
    queue: QueueConfig = QueueConfig()
    processing: ProcessingConfig = ProcessingConfig()
    storage: StorageConfig = StorageConfig()
    http: HttpConfig = HttpConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    world: WorldConfig = WorldConfig()
    faults: FaultConfig = FaultConfig()
    shutdown: ShutdownConfig = ShutdownConfig()

    def to_toml(self) -> str:
        """This config as a TOML file `load_config` reads back to an equal config."""
        lines = [f"name = {json.dumps(self.name)}"]
        for section, values in self.model_dump(exclude={"name"}).items():
            lines.append(f"\n[{section}]")
            lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
        return "\n".join(lines) + "\n"

    def with_overrides(self, **sections: dict[str, Any]) -> EngineConfig:
        """A copy with some keys of some sections replaced, validated again."""
        data = self.model_dump()
        for section, values in sections.items():
            data[section].update(values)
        return validate(EngineConfig, data, f"config '{self.name}' with overrides")


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def config_source(name_or_path: str) -> Path:
    """The file a config name or path refers to: a preset name, or a TOML file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        return candidate
    preset = PRESET_DIR / f"{name_or_path}.toml"
    if preset.exists():
        return preset
    raise ConfigError(
        f"config '{name_or_path}': no such preset or file (presets: {', '.join(preset_names())})"
    )


def load_config(name_or_path: str) -> EngineConfig:
    source = config_source(name_or_path)
    data = read_toml(source)
    data.setdefault("name", source.stem)
    return validate(EngineConfig, data, source)
