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
# What one event changed, to take it back if its commit fails: the member as it was (its
# next_clue, score, place; next_clue 0 for a member the event created) and the treasure it
# won, if any. None for an event that changed nothing.
UndoEntry = tuple["Member", int, int, int, tuple[int, int] | None]

# Every result is one of these tuples: none is built per event, and the results kept for
# idempotency share them.
RESULT_APPLIED: Result = (APPLIED, None)
RESULT_WON: Result = (WON, None)
RESULT_ALREADY_CLAIMED: Result = (ALREADY_CLAIMED, None)
_REJECTED = {
    reason: (REJECTED, reason)
    for reason in (NOT_JOINED, ALREADY_JOINED, WRONG_ANSWER, OUT_OF_ORDER, ALL_SOLVED)
}
_SHARED = {r: r for r in (RESULT_APPLIED, RESULT_WON, RESULT_ALREADY_CLAIMED, *_REJECTED.values())}
# rows each event adds to (members, claims): shared, not built per event
_NO_ROWS = (0, 0)
_MEMBER_ROW = (1, 0)
_MEMBER_AND_CLAIM_ROWS = (1, 1)


def shared_result(status: str, reason: str | None) -> Result:
    """A result read back from storage as its shared tuple (a new one if the game has none)."""
    result = (status, reason)
    return _SHARED.get(result, result)


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
    """What a batch of events changed: rows per table, grouped so storage can executemany
    them, and per event an undo entry so the game can take back what was not committed."""

    events: list[EventRow] = field(default_factory=list)
    members: list[MemberRow] = field(default_factory=list)
    claims: list[ClaimRow] = field(default_factory=list)
    # For commit-per-event: how many rows of each table belong to each event, in order.
    per_event: list[tuple[int, int]] = field(default_factory=list)
    undo: list[UndoEntry | None] = field(default_factory=list)


class Game:
    """The state of every hunt; `apply` is called by one consumer at a time, in queue order.

    The state only ever runs ahead of the database for one batch: between `apply` and its
    commit. If the commit fails, `undo` takes the batch (or the uncommitted rest of it) back.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.members: dict[tuple[int, int], Member] = {}
        self.by_player: dict[int, list[Member]] = {}
        self.winners: dict[tuple[int, int], int] = {}

    # -- restoring from storage ---------------------------------------------------------
    def restore(self, members: list[MemberRow], claims: list[ClaimRow]) -> None:
        for hunt, player, next_clue, score, place in members:
            self._add_member(Member(hunt, player, next_clue, score, place))
        for hunt, treasure, player in claims:
            self.winners[(hunt, treasure)] = player

    def _add_member(self, member: Member) -> None:
        self.members[(member.hunt, member.player)] = member
        self.by_player.setdefault(member.player, []).append(member)

    # -- applying events ----------------------------------------------------------------
    def apply(self, events: list[Event], changes: Changes) -> list[Result]:
        """Apply `events` in order; append what must be persisted to `changes`."""
        results = []
        append_event = changes.events.append
        for event in events:
            result = self._apply_one(event, changes)
            results.append(result)
            append_event(
                (event.id, event.type, event.hunt, event.player, event.target, result[0], result[1])
            )
        return results

    def _apply_one(self, event: Event, changes: Changes) -> Result:
        member = self.members.get((event.hunt, event.player))
        if event.type == "join":
            if member is not None:
                return _unchanged(changes, ALREADY_JOINED)
            member = Member(event.hunt, event.player)
            self._add_member(member)
            changes.undo.append((member, 0, 0, 0, None))
            changes.members.append(member.row())
            changes.per_event.append(_MEMBER_ROW)
            return RESULT_APPLIED
        if member is None:
            return _unchanged(changes, NOT_JOINED)
        before = (member, member.next_clue, member.score, member.place, None)
        if event.type == "checkin":
            member.place = event.target
            member.score += 1
        elif event.type == "solve":
            verdict = self._check_answer(member, event)
            if verdict is not None:
                return _unchanged(changes, verdict)
            member.next_clue += 1
            member.score += 10
        elif event.type == "hint":
            member.score = max(0, member.score - 2)
        else:  # claim
            treasure = (event.hunt, event.target)
            if treasure in self.winners:
                changes.undo.append(None)
                changes.per_event.append(_NO_ROWS)
                return RESULT_ALREADY_CLAIMED
            self.winners[treasure] = event.player
            member.score += 50
            changes.undo.append((member, before[1], before[2], before[3], treasure))
            changes.members.append(member.row())
            changes.claims.append((event.hunt, event.target, event.player))
            changes.per_event.append(_MEMBER_AND_CLAIM_ROWS)
            return RESULT_WON
        changes.undo.append(before)
        changes.members.append(member.row())
        changes.per_event.append(_MEMBER_ROW)
        return RESULT_APPLIED

    def undo(self, changes: Changes, first: int = 0) -> None:
        """Take back what events `first`.. of `changes` did, last first."""
        for entry in reversed(changes.undo[first:]):
            if entry is None:
                continue
            member, next_clue, score, place, treasure = entry
            if treasure is not None:
                del self.winners[treasure]
            if next_clue == 0:  # the event created this member
                del self.members[(member.hunt, member.player)]
                joined = self.by_player[member.player]
                joined.remove(member)
                if not joined:
                    del self.by_player[member.player]
                continue
            member.next_clue, member.score, member.place = next_clue, score, place

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


def _unchanged(changes: Changes, reason: str) -> Result:
    """The result of an event rejected for `reason`: nothing to persist but its row."""
    changes.undo.append(None)
    changes.per_event.append(_NO_ROWS)
    return _REJECTED[reason]
