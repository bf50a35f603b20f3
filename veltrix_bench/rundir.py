"""The run directory's layout: where every stage reads and writes (the contract between stages).

Shared by every layer: the run stage writes these files, analysis and reports read them, and
any stage can be rerun from them alone.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from veltrix_bench.models.capacity import CapacityResult
from veltrix_bench.models.comparison import Comparison
from veltrix_bench.models.documents import read_document
from veltrix_bench.models.run_record import RunRecord
from veltrix_bench.models.summary import Summary

RUN_RECORD = "run.json"
SUMMARY = "summary.json"
COMPARISON = "comparison.json"
GATE = "gate.json"
CAPACITY = "capacity.json"


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    record = property(lambda self: self.path / RUN_RECORD)
    summary = property(lambda self: self.path / SUMMARY)
    timeseries = property(lambda self: self.path / "timeseries.csv")
    latency_log = property(lambda self: self.path / "latency.hlog")
    service_log = property(lambda self: self.path / "service.hlog")
    engine_log = property(lambda self: self.path / "engine.log")
    load_log = property(lambda self: self.path / "load.log")


def new_run_dir(parent: Path, scenario: str, config: str) -> RunDir:
    """reports/<UTC time>-<scenario>-<config>, made unique with a counter if needed."""
    return RunDir(_new_dir(parent, f"{_stamp()}-{slug(scenario)}-{slug(config)}"))


def new_compare_dir(parent: Path, names: list[str], kind: str = "compare") -> Path:
    """reports/<kind>-<UTC time>-<a>-vs-<b>..., made unique with a counter if needed."""
    return _new_dir(parent, f"{kind}-{_stamp()}-" + "-vs-".join(slug(n) for n in names))


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime())


def _new_dir(parent: Path, stem: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        path = parent / (stem if attempt == 0 else f"{stem}-{attempt}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"no free directory name like {stem} under {parent}")


def slug(text: str) -> str:
    """A name made safe for a directory name (at most 40 characters)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(text).stem)[:40] or "x"


def read_record(run_dir: Path) -> RunRecord:
    return read_document(run_dir / RUN_RECORD, RunRecord, "a run directory")


def read_summary(run_dir: Path) -> Summary:
    return read_document(run_dir / SUMMARY, Summary, "a run directory")


def read_comparison(compare_dir: Path) -> Comparison:
    return read_document(compare_dir / COMPARISON, Comparison, "a compare directory")


def read_capacity(capacity_dir: Path) -> CapacityResult:
    return read_document(capacity_dir / CAPACITY, CapacityResult, "a capacity directory")
