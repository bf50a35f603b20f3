"""The run directory: where every stage reads and writes (the contract between stages)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    summary = property(lambda self: self.path / "summary.json")
    timeseries = property(lambda self: self.path / "timeseries.csv")
    latency_log = property(lambda self: self.path / "latency.hlog")
    service_log = property(lambda self: self.path / "service.hlog")
    engine_log = property(lambda self: self.path / "engine.log")
    load_log = property(lambda self: self.path / "load.log")


def new_run_dir(parent: Path, scenario: str, config: str) -> RunDir:
    """reports/<UTC time>-<scenario>-<config>, made unique with a counter if needed."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    stem = f"{stamp}-{_slug(scenario)}-{_slug(config)}"
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        path = parent / (stem if attempt == 0 else f"{stem}-{attempt}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return RunDir(path)
    raise RuntimeError(f"no free run directory name under {parent}")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(text).stem)[:40] or "x"
