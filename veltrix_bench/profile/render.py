"""From a run directory's saved captures to the summary's `memory` and `cpu` blocks and the
derived files (flame graphs, speedscope); what `vbench profile RUN_DIR` reruns."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from veltrix_bench.models.profiles import ProfileBlocks
from veltrix_bench.profile.cpu import CpuProfile, analyse_stacks, without_profiler_threads
from veltrix_bench.profile.errors import CaptureError
from veltrix_bench.profile.flamegraph_svg import flamegraph_svg
from veltrix_bench.profile.folded import read_folded
from veltrix_bench.profile.handler import HandlerMatcher, handler_matcher
from veltrix_bench.profile.layers import LayerRules
from veltrix_bench.profile.memory import MemoryProfile, tally_capture, write_memray_flamegraph
from veltrix_bench.profile.speedscope import speedscope_json

MEMRAY_CAPTURE = "memray.bin"
MEMRAY_FLAMEGRAPH = "memray-flamegraph.html"
CPU_FOLDED = "cpu.folded"
CPU_SVG = "cpu.svg"
CPU_SPEEDSCOPE = "cpu.speedscope.json"
PYSPY_LOG = "py-spy.log"
PROFILES_RECORD = "profiles.json"  # what the session asked for, skipped, and when it sampled


@dataclass(frozen=True)
class ProfileRecord:
    """The session's own notes in the run directory, so a re-render needs nothing else."""

    requested: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)
    cpu_started_at: float | None = None
    cpu_stopped_at: float | None = None
    cpu_rate_hz: int = 100
    handler_regex: str | None = None

    def write(self, run_dir: Path) -> None:
        document = {
            "requested": list(self.requested),
            "skipped": self.skipped,
            "cpu": {
                "started_at": self.cpu_started_at,
                "stopped_at": self.cpu_stopped_at,
                "rate_hz": self.cpu_rate_hz,
            },
            "handler_regex": self.handler_regex,
        }
        (run_dir / PROFILES_RECORD).write_text(json.dumps(document, indent=2) + "\n")

    @classmethod
    def read(cls, run_dir: Path) -> ProfileRecord:
        """The saved record; without one, whichever captures the directory holds."""
        path = run_dir / PROFILES_RECORD
        if not path.exists():
            present = [
                kind
                for kind, name in (("memory", MEMRAY_CAPTURE), ("cpu", CPU_FOLDED))
                if (run_dir / name).exists()
            ]
            return cls(requested=tuple(present))
        try:
            raw = json.loads(path.read_text())
            cpu = raw.get("cpu") or {}
            return cls(
                requested=tuple(raw.get("requested", ())),
                skipped=dict(raw.get("skipped", {})),
                cpu_started_at=cpu.get("started_at"),
                cpu_stopped_at=cpu.get("stopped_at"),
                cpu_rate_hz=int(cpu.get("rate_hz", 100)),
                handler_regex=raw.get("handler_regex"),
            )
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise CaptureError(f"cannot read {path.name}: {exc}") from None


@dataclass(frozen=True)
class ProfileReport:
    memory: MemoryProfile | None
    cpu: CpuProfile | None
    skipped: dict[str, str]

    def summary_blocks(self) -> ProfileBlocks:
        """The summary.json keys `memory`, `cpu` (each a block or None) and `profiles_skipped`."""
        return ProfileBlocks(
            memory=self.memory.summary_block() if self.memory else None,
            cpu=self.cpu.summary_block() if self.cpu else None,
            profiles_skipped=dict(self.skipped),
        )


def render_profiles(
    run_dir: Path,
    acked_events: int | None,
    handler_regex: str | None = None,
    *,
    strict: bool = True,
) -> ProfileReport:
    """Read the captures in `run_dir`, write the derived files, return the summary blocks.

    `acked_events`: events the engine acknowledged between the before- and after-load
    /v1/stats reads (the per-event denominator). `handler_regex`: `--handler`, for an engine
    whose handler is not the embedded one's `HANDLER_FUNCTIONS` (default: as recorded by the
    session). A capture that cannot be read raises CaptureError (exit 3) when `strict`;
    otherwise that profile is reported as skipped with the reason.
    """
    record = ProfileRecord.read(run_dir)
    handler = handler_matcher(handler_regex or record.handler_regex)
    skipped = dict(record.skipped)
    steps: dict[str, Callable[[], Any]] = {
        "memory": lambda: _memory(run_dir, acked_events, handler),
        "cpu": lambda: _cpu(run_dir, record, handler),
    }
    results: dict[str, Any] = {}
    for kind, render in steps.items():
        if kind not in record.requested or kind in skipped:
            continue
        try:
            results[kind] = render()
        except CaptureError as exc:
            if strict:
                raise
            skipped[kind] = exc.message
    return ProfileReport(results.get("memory"), results.get("cpu"), skipped)


def _memory(run_dir: Path, acked_events: int | None, handler: HandlerMatcher) -> MemoryProfile:
    capture = run_dir / MEMRAY_CAPTURE
    tally = tally_capture(capture, LayerRules(handler))
    write_memray_flamegraph(capture, run_dir / MEMRAY_FLAMEGRAPH)
    files = {"capture": MEMRAY_CAPTURE, "flamegraph": MEMRAY_FLAMEGRAPH}
    return MemoryProfile(tally, acked_events, files)


def _cpu(run_dir: Path, record: ProfileRecord, handler: HandlerMatcher) -> CpuProfile:
    stacks, left_out = without_profiler_threads(read_folded(run_dir / CPU_FOLDED))
    window_s = None
    if record.cpu_started_at is not None and record.cpu_stopped_at is not None:
        window_s = record.cpu_stopped_at - record.cpu_started_at
    profile = analyse_stacks(stacks, handler, record.cpu_rate_hz, window_s, left_out)
    title = f"CPU: {profile.samples} busy samples at {record.cpu_rate_hz} Hz ({run_dir.name})"
    (run_dir / CPU_SVG).write_bytes(flamegraph_svg(stacks, LayerRules(handler), title))
    (run_dir / CPU_SPEEDSCOPE).write_bytes(speedscope_json(stacks, f"engine CPU ({run_dir.name})"))
    files = {"folded": CPU_FOLDED, "flamegraph": CPU_SVG, "speedscope": CPU_SPEEDSCOPE}
    under_memray = "memory" in record.requested and "memory" not in record.skipped
    return replace(profile, files=files, under_memray=under_memray)
