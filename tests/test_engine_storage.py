"""SQLite storage: background checkpoints keep the WAL from growing while nothing is lost."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from veltrix_bench.engine import storage
from veltrix_bench.engine.config import load_config
from veltrix_bench.engine.game import Changes


def _write_events(store: storage.Store, count: int) -> None:
    for number in range(count):
        changes = Changes()
        changes.events.append((f"e-{number}", "join", 1, number, 0, "applied", None))
        store.write(changes)
        time.sleep(0.0005)  # a steady stream of commits, as under load


def test_background_checkpoints_let_the_wal_start_over_under_a_steady_stream_of_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "WAL_RESTART_FRAMES", 500)
    config = load_config("tuned").storage.model_copy(update={"checkpoint_every_ms": 50.0})
    assert config.checkpoint == "background"
    db = tmp_path / "v.db"
    store = storage.Store(config, db)
    _write_events(store, 3000)  # ~3 frames per commit: ~9,000 frames in all
    wal_bytes = (tmp_path / "v.db-wal").stat().st_size
    store.close()
    # without the writer's restart pass the WAL holds every frame: ~36 MB
    assert wal_bytes < 9_000 * 4096 / 3
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT COUNT(*) FROM events").fetchone() == (3000,)


def test_without_background_checkpoints_the_writer_connection_checkpoints_itself(
    tmp_path: Path,
) -> None:
    config = load_config("tuned").storage.model_copy(update={"checkpoint": "auto"})
    store = storage.Store(config, tmp_path / "v.db")
    (autocheckpoint,) = store.connection.execute("PRAGMA wal_autocheckpoint").fetchone()
    store.close()
    assert autocheckpoint == 1000
