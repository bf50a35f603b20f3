"""SQLite persistence: the versioned schema, batch writes (per event or group commit), restore."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

from veltrix_bench.engine.config import StorageConfig
from veltrix_bench.engine.game import Changes, ClaimRow, EventRow, MemberRow, Result, shared_result
from veltrix_bench.errors import ConfigError

# Every schema change is one entry here, applied in order; PRAGMA user_version records the last.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE events (
            id TEXT PRIMARY KEY, type TEXT NOT NULL, hunt INTEGER NOT NULL,
            player INTEGER NOT NULL, target INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT)""",
        """CREATE TABLE members (
            hunt INTEGER NOT NULL, player INTEGER NOT NULL, next_clue INTEGER NOT NULL,
            score INTEGER NOT NULL, place INTEGER NOT NULL, PRIMARY KEY (hunt, player))""",
        """CREATE TABLE claims (
            hunt INTEGER NOT NULL, treasure INTEGER NOT NULL, player INTEGER NOT NULL,
            PRIMARY KEY (hunt, treasure))""",
    ),
)

_INSERT_EVENT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)"
_UPSERT_MEMBER = (
    "INSERT INTO members VALUES (?, ?, ?, ?, ?) ON CONFLICT (hunt, player) DO UPDATE SET "
    "next_clue = excluded.next_clue, score = excluded.score, place = excluded.place"
)
# A second winner of a treasure violates the primary key: the database itself backs the rule.
_INSERT_CLAIM = "INSERT INTO claims VALUES (?, ?, ?)"

_LOOKUP_CHUNK = 500  # ids per SELECT ... IN (...): well under SQLite's limit on parameters

CHECKPOINT_THREAD_NAME = "veltrix-checkpointer"
log = logging.getLogger("veltrix.storage")


class CommitFailed(Exception):
    """A write failed and was rolled back; the batch's first `committed` events (commit per
    event) were committed before it."""

    def __init__(self, committed: int, cause: Exception) -> None:
        super().__init__(f"commit failed: {type(cause).__name__}: {cause}")
        self.committed = committed
        self.cause = cause


class WriteStopped(Exception):
    """A write per event stopped because the engine's drain deadline passed: the batch's first
    `committed` events were committed, the others not written."""

    def __init__(self, committed: int) -> None:
        super().__init__(f"stopped after {committed} commits: the drain deadline passed")
        self.committed = committed


class InjectedFault(Exception):
    """The commit failure asked for by faults.commit_fail_prefix."""


class Store:
    """One connection, used from one thread at a time: the writer thread or the event loop."""

    def __init__(self, config: StorageConfig, path: Path, commit_fail_prefix: str = "") -> None:
        self.config = config
        self.path = path
        self.commit_fail_prefix = commit_fail_prefix
        # Set (from the event loop) once the drain deadline passed: a write per event stops
        # before its next event, so that shutdown waits for one commit, not for a whole batch.
        self.stopping = threading.Event()
        self.connection = _open(path)
        self._checkpointer: Checkpointer | None = None
        try:
            self.connection.execute(f"PRAGMA journal_mode = {config.journal_mode}")
            self.connection.execute(f"PRAGMA synchronous = {config.synchronous}")
            self.migrate()
        except sqlite3.Error as exc:
            self.connection.close()
            raise ConfigError(f"database {path}: cannot be written ({exc})") from None
        if config.journal_mode == "wal" and config.checkpoint == "background":
            # the writer's commits never checkpoint: at a few hundred commits a second the
            # commit that did (every 1,000 WAL pages) stalled every request behind it
            self.connection.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpointer = Checkpointer(path, config.checkpoint_every_ms / 1000)

    def migrate(self) -> None:
        (version,) = self.connection.execute("PRAGMA user_version").fetchone()
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            self.connection.execute("BEGIN")
            for statement in statements:
                self.connection.execute(statement)
            self.connection.execute(f"PRAGMA user_version = {number}")
            self.connection.execute("COMMIT")

    def load(self, recent: int) -> tuple[list[MemberRow], list[ClaimRow], list[tuple[str, Result]]]:
        """Members, claims, and the results of the `recent` latest events, oldest first."""
        cursor = self.connection
        members = cursor.execute("SELECT * FROM members").fetchall()
        claims = cursor.execute("SELECT * FROM claims").fetchall()
        latest = cursor.execute(
            "SELECT id, status, reason FROM events ORDER BY rowid DESC LIMIT ?", (recent,)
        ).fetchall()
        results = [(event_id, shared_result(status, reason)) for event_id, status, reason in latest]
        results.reverse()
        return members, claims, results

    def results_of(self, event_ids: list[str]) -> dict[str, Result]:
        """The stored result of each of these events that is in the events table."""
        found: dict[str, Result] = {}
        for at in range(0, len(event_ids), _LOOKUP_CHUNK):
            chunk = event_ids[at : at + _LOOKUP_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self.connection.execute(
                f"SELECT id, status, reason FROM events WHERE id IN ({marks})", chunk
            )
            found.update(
                (event_id, shared_result(status, reason)) for event_id, status, reason in rows
            )
        return found

    def write(self, changes: Changes) -> None:
        """Persist `changes`; returns only once they are committed, else raises CommitFailed
        with everything not committed rolled back, or WriteStopped (commit per event)."""
        if self.config.commit == "batch":
            self._write_group(changes)
        else:
            self._write_each(changes)
        if self._checkpointer is not None:
            self._checkpointer.after_commit(self.connection)

    def _write_group(self, changes: Changes) -> None:
        execute = self.connection.execute
        try:  # BEGIN too: every failure of a write must reach the pipeline as CommitFailed
            execute("BEGIN")
            self.connection.executemany(_INSERT_EVENT, changes.events)
            if changes.members:
                self.connection.executemany(_UPSERT_MEMBER, changes.members)
            if changes.claims:
                self.connection.executemany(_INSERT_CLAIM, changes.claims)
            if self.commit_fail_prefix:
                self._inject_fault(changes.events)
            execute("COMMIT")
        except Exception as exc:
            self._roll_back()
            raise CommitFailed(0, exc) from exc

    def _write_each(self, changes: Changes) -> None:
        execute = self.connection.execute
        member_at = claim_at = 0
        stopping = self.stopping
        for committed, (event_row, (member_rows, claim_rows)) in enumerate(
            zip(changes.events, changes.per_event, strict=True)
        ):
            if committed and stopping.is_set():
                raise WriteStopped(committed)
            try:
                execute("BEGIN")
                execute(_INSERT_EVENT, event_row)
                for row in changes.members[member_at : member_at + member_rows]:
                    execute(_UPSERT_MEMBER, row)
                for claim in changes.claims[claim_at : claim_at + claim_rows]:
                    execute(_INSERT_CLAIM, claim)
                if self.commit_fail_prefix:
                    self._inject_fault([event_row])
                execute("COMMIT")
            except Exception as exc:
                self._roll_back()
                raise CommitFailed(committed, exc) from exc
            member_at += member_rows
            claim_at += claim_rows

    def _inject_fault(self, rows: list[EventRow]) -> None:
        prefix = self.commit_fail_prefix
        for row in rows:
            if row[0].startswith(prefix):
                raise InjectedFault(f"faults.commit_fail_prefix {prefix!r} matches {row[0]!r}")

    def _roll_back(self) -> None:
        # a failed COMMIT may have ended the transaction already (SQLite rolls back by itself
        # on some errors, such as a full disk)
        if self.connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute("ROLLBACK")

    def persisted_by_type(self) -> dict[str, int]:
        rows = self.connection.execute("SELECT type, COUNT(*) FROM events GROUP BY type")
        return dict(rows.fetchall())

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.connection.close()  # the last connection to close checkpoints what is left


def _open(path: Path) -> sqlite3.Connection:
    """A connection to an SQLite file of a schema this engine knows; ConfigError (exit 2)
    naming the file otherwise, before anything was written to it."""
    if not path.parent.is_dir():
        raise ConfigError(f"database {path}: no such directory {path.parent}")
    if path.exists() and not path.is_file():
        raise ConfigError(f"database {path}: not a file")
    try:
        connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30
        )
    except sqlite3.Error as exc:
        raise ConfigError(f"database {path}: cannot be opened ({exc})") from None
    try:
        # the first read of the file: it checks the header before anything is written
        (version,) = connection.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error as exc:
        connection.close()
        raise ConfigError(f"database {path}: not an SQLite database ({exc})") from None
    if version > len(MIGRATIONS):
        connection.close()
        raise ConfigError(
            f"database {path}: schema version {version}, newer than this engine's "
            f"{len(MIGRATIONS)}: use the vbench that wrote it, or another file"
        )
    return connection


# The WAL may grow to about this many frames (64 MiB of 4 KiB pages) before the writer
# checkpoints once itself so that SQLite can start the file over (see Checkpointer).
WAL_RESTART_FRAMES = 16_384


class Checkpointer:
    """Copies the WAL into the database from a connection and thread of its own.

    PASSIVE checkpoints never wait for the writer and never block it. Under a steady stream
    of commits they never quite catch up with the last frame, though, and SQLite starts the
    WAL over only after a checkpoint that did. So once the WAL holds WAL_RESTART_FRAMES
    frames, the writer, between two of its commits, checkpoints the few frames appended
    since the background pass: that lets the file be reused instead of growing without
    end. Its cost, mostly the checkpoint's two fsyncs, measured 2-5 ms here with the
    background pass running (~12 ms without it), paid once per 64 MiB of WAL instead of
    once per 1,000 pages as SQLite's own autocheckpoint does.
    """

    def __init__(self, path: Path, every_s: float) -> None:
        self.every_s = every_s
        self._restart_wanted = threading.Event()
        self._stopping = threading.Event()
        self._connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._thread = threading.Thread(target=self._run, name=CHECKPOINT_THREAD_NAME, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.every_s):
            frames = _checkpoint(self._connection)
            if frames >= WAL_RESTART_FRAMES:
                self._restart_wanted.set()

    def after_commit(self, writer: sqlite3.Connection) -> None:
        if self._restart_wanted.is_set():
            self._restart_wanted.clear()
            _checkpoint(writer)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        self._connection.close()


def _checkpoint(connection: sqlite3.Connection) -> int:
    """One PASSIVE checkpoint; returns the number of frames in the WAL (0 if it failed)."""
    try:
        # fetchall: a statement left unfinished would hold a read lock and pin the WAL
        ((_busy, frames, _copied),) = connection.execute(
            "PRAGMA wal_checkpoint(PASSIVE)"
        ).fetchall()
    except sqlite3.Error as exc:  # busy or I/O: a later pass tries again
        log.warning("checkpoint failed: %s", exc)
        return 0
    return int(frames)
