"""Engine config files: presets load, and a bad file names the file, the key and what is allowed."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from veltrix_bench.engine.config import load_config
from veltrix_bench.errors import ConfigError


def test_presets_differ_in_the_knobs_of_the_story() -> None:
    default, tuned = load_config("default"), load_config("tuned")
    assert (default.queue.capacity, tuned.queue.capacity) == (0, 4096)
    assert (default.processing.batch_max_size, tuned.processing.batch_max_size) == (1, 256)
    assert (default.storage.commit, tuned.storage.commit) == ("event", "batch")
    assert (default.storage.journal_mode, tuned.storage.journal_mode) == ("delete", "wal")
    assert (default.storage.synchronous, tuned.storage.synchronous) == ("full", "normal")
    assert (default.runtime.gc, tuned.runtime.gc) == ("default", "quiet")
    assert (default.storage.writer, tuned.storage.writer) == ("thread", "loop")


def test_a_config_written_as_toml_reads_back_equal(tmp_path: Path) -> None:
    tuned = load_config("tuned").with_overrides(faults={"stall_ms": 200, "stall_every_s": 2})
    path = tmp_path / "copy.toml"
    path.write_text(tuned.to_toml())
    assert load_config(str(path)) == tuned


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[queue]\ncapacty = 5\n", "key 'queue.capacty': unknown key"),
        ("[queue]\ncapacity = 'big'\n", "key 'queue.capacity': input should be a valid integer"),
        ("[queue]\ncapacity = -1\n", "key 'queue.capacity': input should be greater than or"),
        ("[storage]\njournal_mode = 'fast'\n", "key 'storage.journal_mode': input should be"),
        ("[processing]\nbatch_max_size = 0\n", "key 'processing.batch_max_size'"),
        ("[runtime]\ngc = 'off'\n", "key 'runtime.gc': input should be 'default' or 'quiet'"),
        ("[queue\n", "not valid TOML"),
    ],
)
def test_a_bad_config_names_file_key_and_expectation(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert str(path) in caught.value.message
    assert expected in caught.value.message


def test_an_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(ConfigError, match="presets: default, tuned"):
        load_config("fastest")


def test_engine_serve_with_a_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[storage]\nsynchronous = 'sometimes'\n")
    done = subprocess.run(
        [sys.executable, "-m", "veltrix_bench.engine", "--config", str(path), "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "storage.synchronous" in done.stderr and str(path) in done.stderr.replace("\n", "")
    assert "Traceback" not in done.stderr


def _newer_schema(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE events (id TEXT PRIMARY KEY)")
        connection.execute("PRAGMA user_version = 99")
        connection.commit()


# (what --db names, how the test makes it, what the one line must say)
BAD_DATABASES = {
    "a text file": ("notes.db", lambda p: p.write_bytes(b"not a database\n" * 50), "not an SQLite"),
    "a tiny file": ("tiny.db", lambda p: p.write_bytes(b"hello\n"), "not an SQLite"),
    "a newer schema": ("newer.db", _newer_schema, "schema version 99, newer than"),
    "a missing directory": ("missing/v.db", lambda p: None, "no such directory"),
    "a directory": ("folder", lambda p: p.mkdir(), "not a file"),
}


@pytest.mark.parametrize("case", list(BAD_DATABASES))
def test_engine_serve_on_a_database_it_cannot_use_exits_2_with_one_line_and_leaves_it_alone(
    tmp_path: Path, case: str
) -> None:
    name, make, expected = BAD_DATABASES[case]
    db = tmp_path / name
    make(db)
    before = {path: path.read_bytes() if path.is_file() else None for path in tmp_path.rglob("*")}
    done = subprocess.run(
        [sys.executable, "-m", "veltrix_bench.engine", "--config", "default", "--port", "0",
         "--db", str(db)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert str(db) in line and expected in line
    # the file as it was, and nothing beside it (no journal, WAL or new directory)
    after = {path: path.read_bytes() if path.is_file() else None for path in tmp_path.rglob("*")}
    assert after == before
