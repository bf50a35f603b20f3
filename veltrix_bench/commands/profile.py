"""`vbench profile`: re-render a profiled run's tables, flame graphs and summary blocks from its
saved captures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import msgspec

from veltrix_bench.errors import EXIT_OK
from veltrix_bench.models.documents import write_document
from veltrix_bench.models.summary import Summary
from veltrix_bench.profile import render_profiles
from veltrix_bench.report import write_reports
from veltrix_bench.rundir import RunDir, read_record


@dataclass(frozen=True)
class ProfileOutcome:
    report_html: Path
    summary: Summary
    exit_code: int = EXIT_OK


def profile(run_dir: Path, handler: str | None) -> ProfileOutcome:
    """CaptureError (exit 3) when a capture cannot be read; nothing is rewritten then."""
    layout = RunDir(run_dir)
    record = read_record(run_dir)
    blocks = render_profiles(run_dir, record.events_acked(), handler, strict=True).summary_blocks()
    updated = msgspec.structs.replace(
        record, memory=blocks.memory, cpu=blocks.cpu, profiles_skipped=blocks.profiles_skipped
    )
    write_document(layout.record, updated)
    summary = write_reports(layout)
    return ProfileOutcome(run_dir / "report.html", summary)
