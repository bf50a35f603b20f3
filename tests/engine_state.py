"""The game as the engine serves it, as its memory holds it and as its SQLite file holds it."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import http
from veltrix_bench.engine.game import Game, MemberRow
from veltrix_bench.engine.process import EngineProcess


@dataclass(frozen=True)
class GameState:
    members: tuple[MemberRow, ...]  # (hunt, player, next_clue, score, place), sorted
    treasures_won: int


def state_in_database(db: Path) -> GameState:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        members = connection.execute("SELECT hunt, player, next_clue, score, place FROM members")
        (won,) = connection.execute("SELECT COUNT(*) FROM claims").fetchone()
        return GameState(tuple(sorted(members)), won)


def state_in_memory(game: Game) -> GameState:
    return GameState(tuple(sorted(m.row() for m in game.members.values())), len(game.winners))


def state_served(engine: EngineProcess, players: Iterable[int]) -> GameState:
    """Members of these players (from /v1/players) and the treasures won (from /v1/stats)."""
    members: list[MemberRow] = []
    for player in players:
        status, _, answer = http("GET", f"{engine.url}/v1/players/{player}")
        assert status == 200, answer
        members.extend(
            (h["hunt"], player, h["next_clue"], h["score"], h["place"]) for h in answer["hunts"]
        )
    stats = http("GET", f"{engine.url}/v1/stats")[2]
    return GameState(tuple(sorted(members)), stats["treasures_won"])


def persisted_results(db: Path) -> dict[str, tuple[str, str | None]]:
    """Every event row's (status, reason), by id."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        rows = connection.execute("SELECT id, status, reason FROM events")
        return {event_id: (status, reason) for event_id, status, reason in rows}


def claims_in_database(db: Path) -> set[tuple[int, int, int]]:
    """(hunt, treasure, player) of every won treasure."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return set(connection.execute("SELECT hunt, treasure, player FROM claims"))
