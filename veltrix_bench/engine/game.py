"""Game rules over the in-memory state: each event becomes a result and the rows to persist."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from veltrix_bench.engine.events import Event
from veltrix_bench.engine.world import World

# Result statuses and reasons are shared constants: no string is built per event.
APPLIED = "applied"
WON = "won"
ALREADY_CLAIMED = "already_claimed"
REJECTED = "rejected"
NOT_JOINED = "player has not joined this hunt"
ALREADY_JOINED = "player already joined this hunt"
WRONG_ANSWER = "wrong answer"
OUT_OF_ORDER = "not the player's next clue"
ALL_SOLVED = "every clue of this hunt is already solved"

Result = tuple[str, str | None]  # (status, reason)
EventRow = tuple[str, str, int, int, int, str, str | None]  # id, type, hunt, player, target, ...
MemberRow = tuple[int, int, int, int, int]  # hunt, player, next_clue, score, place
ClaimRow = tuple[int, int, int]  # hunt, treasure, player


class Member:
    __slots__ = ("hunt", "player", "next_clue", "score", "place")

    def __init__(self, hunt: int, player: int, next_clue: int = 1, score: int = 0, place: int = 0):
        self.hunt = hunt
        self.player = player
        self.next_clue = next_clue
        self.score = score
        self.place = place

    def row(self) -> MemberRow:
        return (self.hunt, self.player, self.next_clue, self.score, self.place)


@dataclass
class Changes:
    """Rows a batch of events adds, grouped per table so storage can executemany them."""

    events: list[EventRow] = field(default_factory=list)
    members: list[MemberRow] = field(default_factory=list)
    claims: list[ClaimRow] = field(default_factory=list)
    # For commit-per-event: how many rows of each table belong to each event, in order.
    per_event: list[tuple[int, int]] = field(default_factory=list)


class Game:
    """The state of every hunt; `apply` is called by one consumer at a time, in queue order."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.members: dict[tuple[int, int], Member] = {}
        self.by_player: dict[int, list[Member]] = {}
        self.winners: dict[tuple[int, int], int] = {}
        self.results: dict[str, Result] = {}

    # -- restoring from storage ---------------------------------------------------------
    def restore(
        self,
        members: list[MemberRow],
        claims: list[ClaimRow],
        results: list[tuple[str, str, str | None]],
    ) -> None:
        for hunt, player, next_clue, score, place in members:
            self._add_member(Member(hunt, player, next_clue, score, place))
        for hunt, treasure, player in claims:
            self.winners[(hunt, treasure)] = player
        for event_id, status, reason in results:
            self.results[event_id] = (status, reason)

    def _add_member(self, member: Member) -> None:
        self.members[(member.hunt, member.player)] = member
        self.by_player.setdefault(member.player, []).append(member)

    # -- applying events ----------------------------------------------------------------
    def apply(self, events: list[Event], changes: Changes) -> list[Result]:
        """Apply `events` in order; append what must be persisted to `changes`."""
        results = []
        for event in events:
            members_before = len(changes.members)
            claims_before = len(changes.claims)
            status, reason = self._apply_one(event, changes)
            results.append((status, reason))
            changes.events.append(
                (event.id, event.type, event.hunt, event.player, event.target, status, reason)
            )
            changes.per_event.append(
                (len(changes.members) - members_before, len(changes.claims) - claims_before)
            )
        return results

    def _apply_one(self, event: Event, changes: Changes) -> Result:
        key = (event.hunt, event.player)
        member = self.members.get(key)
        if event.type == "join":
            if member is not None:
                return REJECTED, ALREADY_JOINED
            member = Member(event.hunt, event.player)
            self._add_member(member)
            changes.members.append(member.row())
            return APPLIED, None
        if member is None:
            return REJECTED, NOT_JOINED
        if event.type == "checkin":
            member.place = event.target
            member.score += 1
        elif event.type == "solve":
            verdict = self._check_answer(member, event)
            if verdict is not None:
                return REJECTED, verdict
            member.next_clue += 1
            member.score += 10
        elif event.type == "hint":
            member.score = max(0, member.score - 2)
        else:  # claim
            treasure = (event.hunt, event.target)
            if treasure in self.winners:
                return ALREADY_CLAIMED, None
            self.winners[treasure] = event.player
            member.score += 50
            changes.claims.append((event.hunt, event.target, event.player))
            changes.members.append(member.row())
            return WON, None
        changes.members.append(member.row())
        return APPLIED, None

    def _check_answer(self, member: Member, event: Event) -> str | None:
        answers = self.world.hunt(event.hunt).answers
        if member.next_clue > len(answers):
            return ALL_SOLVED
        if event.target != member.next_clue:
            return OUT_OF_ORDER
        if event.answer != answers[event.target - 1]:
            return WRONG_ANSWER
        return None

    # -- reads ---------------------------------------------------------------------------
    def leaderboard(self, hunt: int, top: int = 10) -> list[dict[str, int]]:
        in_hunt = (m for m in self.members.values() if m.hunt == hunt)
        best = heapq.nlargest(top, in_hunt, key=lambda m: (m.score, -m.player))
        return [{"player": m.player, "score": m.score, "next_clue": m.next_clue} for m in best]

    def player(self, player: int) -> list[dict[str, int]]:
        return [
            {"hunt": m.hunt, "score": m.score, "next_clue": m.next_clue, "place": m.place}
            for m in self.by_player.get(player, ())
        ]
