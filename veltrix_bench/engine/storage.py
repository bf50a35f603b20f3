"""SQLite persistence: the versioned schema, batch writes (per event or group commit), restore."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from veltrix_bench.engine.config import StorageConfig
from veltrix_bench.engine.game import Changes, ClaimRow, MemberRow

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

CHECKPOINT_THREAD_NAME = "veltrix-checkpointer"
log = logging.getLogger("veltrix.storage")


class Store:
    """One connection, used from one thread at a time: the writer thread or the event loop."""

    def __init__(self, config: StorageConfig, path: Path) -> None:
        self.config = config
        self.path = path
        self.connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self.connection.execute(f"PRAGMA journal_mode = {config.journal_mode}")
        self.connection.execute(f"PRAGMA synchronous = {config.synchronous}")
        self.migrate()
        self._checkpointer: Checkpointer | None = None
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

    def load(
        self,
    ) -> tuple[list[MemberRow], list[ClaimRow], list[tuple[str, str, str | None]]]:
        cursor = self.connection
        members = cursor.execute("SELECT * FROM members").fetchall()
        claims = cursor.execute("SELECT * FROM claims").fetchall()
        results = cursor.execute("SELECT id, status, reason FROM events").fetchall()
        return members, claims, results

    def write(self, changes: Changes) -> None:
        """Persist `changes`; returns only once they are committed."""
        if self.config.commit == "batch":
            self._write_group(changes)
        else:
            self._write_each(changes)
        if self._checkpointer is not None:
            self._checkpointer.after_commit(self.connection)

    def _write_group(self, changes: Changes) -> None:
        execute = self.connection.execute
        execute("BEGIN")
        try:
            self.connection.executemany(_INSERT_EVENT, changes.events)
            if changes.members:
                self.connection.executemany(_UPSERT_MEMBER, changes.members)
            if changes.claims:
                self.connection.executemany(_INSERT_CLAIM, changes.claims)
        except BaseException:
            execute("ROLLBACK")
            raise
        execute("COMMIT")

    def _write_each(self, changes: Changes) -> None:
        execute = self.connection.execute
        member_at = claim_at = 0
        for event_row, (member_rows, claim_rows) in zip(
            changes.events, changes.per_event, strict=True
        ):
            execute("BEGIN")
            try:
                execute(_INSERT_EVENT, event_row)
                for row in changes.members[member_at : member_at + member_rows]:
                    execute(_UPSERT_MEMBER, row)
                for claim in changes.claims[claim_at : claim_at + claim_rows]:
                    execute(_INSERT_CLAIM, claim)
            except BaseException:
                execute("ROLLBACK")
                raise
            execute("COMMIT")
            member_at += member_rows
            claim_at += claim_rows

    def persisted_by_type(self) -> dict[str, int]:
        rows = self.connection.execute("SELECT type, COUNT(*) FROM events GROUP BY type")
        return dict(rows.fetchall())

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.connection.close()  # the last connection to close checkpoints what is left


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
