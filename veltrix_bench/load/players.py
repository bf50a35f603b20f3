"""Treasure-hunt players: who acts next, what they do, the request it takes, what came back.

Pure logic (no gevent, no HTTP). One seeded `random.Random` drives every choice, so the
same seed and the same order of calls (and the same answers) give the same traffic.
A player with a request in flight is out of the idle pool until `settle` returns it, so
a player's own events never race each other.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, NamedTuple

from veltrix_bench.contract.openapi import referenced_id, schema_problems
from veltrix_bench.load.spec import ACTIONS, ActionMix


@dataclass(frozen=True)
class Hunt:
    """One hunt as `GET /v1/hunts/{hunt}` describes it."""

    hunt: int
    places: tuple[int, ...]
    clues: tuple[tuple[int, str], ...]
    """(clue id, answer), in the order a player solves them."""
    treasures: tuple[int, ...]

    @classmethod
    def from_json(cls, data: Any) -> Hunt:
        """Accepts exactly the contract's `Hunt` schema (places and treasures as ids or as
        objects holding the id); raises ValueError naming what does not match."""
        problems = schema_problems("Hunt", data)
        if problems:
            raise ValueError(f"hunt description is malformed: {problems[0]}")
        return cls(
            hunt=int(data["hunt"]),
            places=tuple(referenced_id(place, "place") for place in data["places"]),
            clues=tuple((int(clue["clue"]), clue["answer"]) for clue in data["clues"]),
            treasures=tuple(referenced_id(treasure, "treasure") for treasure in data["treasures"]),
        )


@dataclass
class Player:
    player: int
    hunt: Hunt
    joined: bool = False
    next_clue: int = 0
    """Index into hunt.clues of the clue to solve next; stays on the last once all are solved."""

    @property
    def current_clue(self) -> tuple[int, str]:
        return self.hunt.clues[min(self.next_clue, len(self.hunt.clues) - 1)]


class Action(NamedTuple):
    """One request a player makes. `kind` is an event type or 'leaderboard' / 'player'.

    A named tuple rather than a frozen dataclass: one is built per request in the
    generator, whose CPU is the ceiling of the load, and it is ~3x cheaper to build."""

    kind: str
    player: int
    method: str
    path: str
    name: str
    """Label grouping requests in Locust's stats, e.g. 'POST join'."""
    body: dict[str, Any] | None = None

    @property
    def is_event(self) -> bool:
        return self.body is not None


@dataclass
class GameLedger:
    """What the players sent and what the engine answered, counted by event type."""

    sent_by_type: Counter[str] = field(default_factory=Counter)
    acked_by_type: Counter[str] = field(default_factory=Counter)
    wins_seen: Counter[str] = field(default_factory=Counter)
    """'<hunt>:<treasure>' -> number of 'won' results seen (should never exceed 1)."""


class Population:
    """All players of one generator, the idle pool, and the choice of each next action."""

    def __init__(
        self,
        hunts: Sequence[Hunt],
        players: int,
        mix: ActionMix,
        wrong_answer_rate: float,
        seed: int,
        run_tag: str,
        share: tuple[int, int] = (0, 1),
    ) -> None:
        """`share=(k, n)`: this generator plays players k+1, k+1+n, ... of 1..players, so
        n generator processes never act for the same player."""
        if not hunts:
            raise ValueError("a population needs at least one hunt")
        self._rng = random.Random(seed)
        self._kinds = list(ACTIONS)
        self._cumulative_weights = list(accumulate(mix.weights()[kind] for kind in self._kinds))
        self._total_weight = self._cumulative_weights[-1]
        self._wrong_answer_rate = wrong_answer_rate
        self._run_tag = run_tag
        self._sequence = 0
        self.players = {
            number: Player(number, hunts[self._rng.randrange(len(hunts))])
            for number in range(1 + share[0], players + 1, share[1])
        }
        self._idle = list(self.players)
        self.ledger = GameLedger()

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    def next_action(self) -> Action | None:
        """Take a random idle player out of the pool and decide its next request."""
        if not self._idle:
            return None
        pick = self._rng.randrange(len(self._idle))
        self._idle[pick], self._idle[-1] = self._idle[-1], self._idle[pick]
        player = self.players[self._idle.pop()]
        if not player.joined:
            kind = "join"
        else:
            # what random.choices(cum_weights=...) does, same draws, without its set-up cost
            draw = self._rng.random() * self._total_weight
            kind = self._kinds[bisect(self._cumulative_weights, draw)]
        action = self._build(player, kind)
        self.ledger.sent_by_type[kind] += 1
        return action

    def settle(self, action: Action, results: Sequence[Mapping[str, Any]] | None) -> None:
        """Apply the engine's results (None: no 200 answer) and return the player to the pool."""
        player = self.players[action.player]
        result = _result_for(action, results)
        if result is not None and action.body is not None:
            status = result.get("status")
            self.ledger.acked_by_type[action.kind] += 1
            if action.kind == "join":
                # any answer, applied or not, means the engine knows this player's hunt
                # state; retrying a join the engine refused would loop forever
                player.joined = True
            elif action.kind == "solve" and status == "applied":
                player.next_clue = min(player.next_clue + 1, len(player.hunt.clues))
            elif action.kind == "claim" and status == "won":
                self.ledger.wins_seen[f"{action.body['hunt']}:{action.body['treasure']}"] += 1
        self._idle.append(action.player)

    def _build(self, player: Player, kind: str) -> Action:
        hunt = player.hunt
        if kind == "leaderboard":
            return Action(
                kind, player.player, "GET", f"/v1/hunts/{hunt.hunt}/leaderboard", "GET leaderboard"
            )
        if kind == "player":
            return Action(kind, player.player, "GET", f"/v1/players/{player.player}", "GET player")
        self._sequence += 1
        body: dict[str, Any] = {
            "id": f"{self._run_tag}-{self._sequence}",
            "type": kind,
            "hunt": hunt.hunt,
            "player": player.player,
        }
        if kind == "checkin":
            body["place"] = self._rng.choice(hunt.places)
        elif kind == "solve":
            clue, answer = player.current_clue
            wrong = self._rng.random() < self._wrong_answer_rate
            body["clue"] = clue
            body["answer"] = f"not-{answer}" if wrong else answer
        elif kind == "hint":
            body["clue"] = player.current_clue[0]
        elif kind == "claim":
            body["treasure"] = self._rng.choice(hunt.treasures)
        return Action(kind, player.player, "POST", "/v1/events", f"POST {kind}", body)


def _result_for(
    action: Action, results: Sequence[Mapping[str, Any]] | None
) -> Mapping[str, Any] | None:
    if not results or action.body is None:
        return None
    for result in results:
        if result.get("id") == action.body["id"]:
            return result
    return None
