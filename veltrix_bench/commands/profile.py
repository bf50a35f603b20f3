"""`vbench profile`: re-render a profiled run's tables, flame graphs and summary blocks from its
saved captures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veltrix_bench.errors import EXIT_OK
from veltrix_bench.profile import render_profiles
from veltrix_bench.report import write_reports
from veltrix_bench.rundir import RunDir, read_record


@dataclass(frozen=True)
class ProfileOutcome:
    report_html: Path
    summary: dict[str, Any]
    exit_code: int = EXIT_OK


def profile(run_dir: Path, handler: str | None) -> ProfileOutcome:
    """CaptureError (exit 3) when a capture cannot be read; nothing is rewritten then."""
    record = read_record(run_dir)
    before, after = record.get("stats_before"), record.get("stats_after")
    acked = None
    if before and after:
        acked = sum(after["acknowledged"].values()) - sum(before["acknowledged"].values())
    blocks = render_profiles(run_dir, acked, handler, strict=True).summary_blocks()
    record.update(blocks)
    (run_dir / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    summary = write_reports(RunDir(run_dir))
    return ProfileOutcome(run_dir / "report.html", summary)
