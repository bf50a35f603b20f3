"""timeseries.csv: one row per second of the load window, written and read with pandas."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from veltrix_bench.errors import RunFailed

TICK_COLUMNS = (
    "t", "requests", "ok", "errors", "rejected", "target_rate", "in_flight", "late_cap",
    "late_generator", "p50_ms", "p90_ms", "p99_ms", "service_p50_ms", "service_p99_ms",
)  # fmt: skip
"""Columns taken from the generator's per-second tick."""
ENGINE_COLUMNS = ("queue_depth", "engine_rss_mb")
"""Columns from the engine monitor's sample at that second (empty when not available)."""
COLUMNS = TICK_COLUMNS + ENGINE_COLUMNS


def write_timeseries(path: Path, rows: Iterable[Mapping[str, object]]) -> None:
    """One row per second; a missing figure is an empty cell."""
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    frame.to_csv(path, index=False, na_rep="")


def read_timeseries(path: Path) -> pd.DataFrame:
    """The series as numbers (empty when the run recorded no second); RunFailed naming the file
    when it is not a table of numbers."""
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame()
    try:
        frame = pd.read_csv(path)
        return frame.apply(pd.to_numeric)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunFailed(f"{path}: not a readable time series ({problem})") from None
