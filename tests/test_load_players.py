"""Treasure-hunt players: reproducible choices, join first, solve advances only when applied."""

from __future__ import annotations

from typing import Any

import pytest

from veltrix_bench.load.players import Action, Hunt, Population
from veltrix_bench.load.spec import ActionMix

HUNTS = [
    Hunt(1, places=(1, 2, 3), clues=((1, "amber"), (2, "birch"), (3, "cedar")), treasures=(1, 2)),
    Hunt(2, places=(1, 2), clues=((1, "dune"), (2, "elm")), treasures=(1,)),
]
DEFAULT_MIX = ActionMix(checkin=30, solve=25, hint=5, claim=10, leaderboard=15, player=5)
SOLVE_ONLY = ActionMix(checkin=0, solve=1, hint=0, claim=0, leaderboard=0, player=0)


def population(
    seed: int = 3, players: int = 20, mix: ActionMix = DEFAULT_MIX, wrong_answer_rate: float = 0.1
) -> Population:
    return Population(HUNTS, players, mix, wrong_answer_rate, seed, run_tag="run7")


def applied(action: Action) -> list[dict[str, Any]] | None:
    if action.body is None:
        return None
    status = "won" if action.kind == "claim" else "applied"
    return [{"id": action.body["id"], "status": status}]


def play(pop: Population, steps: int) -> list[tuple[str, int, str, Any]]:
    """Take actions two at a time (so the pool matters), answering each as applied."""
    trace = []
    for _ in range(steps // 2):
        first, second = pop.next_action(), pop.next_action()
        assert first is not None and second is not None
        for action in (first, second):
            trace.append((action.kind, action.player, action.path, action.body))
        pop.settle(second, applied(second))
        pop.settle(first, applied(first))
    return trace


def test_same_seed_gives_the_same_traffic() -> None:
    assert play(population(seed=3), 400) == play(population(seed=3), 400)


def test_another_seed_gives_other_traffic() -> None:
    assert play(population(seed=3), 400) != play(population(seed=4), 400)


def test_a_players_first_action_is_join() -> None:
    first_seen: dict[int, str] = {}
    for kind, player, _, _ in play(population(players=10), 300):
        first_seen.setdefault(player, kind)
    assert len(first_seen) == 10
    assert set(first_seen.values()) == {"join"}


def test_join_is_repeated_until_the_engine_answered_it() -> None:
    pop = population(players=1, mix=SOLVE_ONLY)
    join = pop.next_action()
    assert join is not None and join.kind == "join"
    pop.settle(join, None)  # 429, 5xx or a dropped connection
    again = pop.next_action()
    assert again is not None and again.kind == "join"


def test_solve_advances_only_when_applied() -> None:
    pop = population(players=1, mix=SOLVE_ONLY, wrong_answer_rate=0.0)
    join = pop.next_action()
    assert join is not None
    hunt = pop.players[join.player].hunt
    pop.settle(join, applied(join))

    solve = pop.next_action()
    assert solve is not None and solve.body is not None
    assert (solve.body["clue"], solve.body["answer"]) == hunt.clues[0]
    pop.settle(solve, [{"id": solve.body["id"], "status": "rejected", "reason": "wrong"}])

    retry = pop.next_action()
    assert retry is not None and retry.body is not None
    assert retry.body["clue"] == hunt.clues[0][0]
    pop.settle(retry, applied(retry))

    following = pop.next_action()
    assert following is not None and following.body is not None
    assert following.body["clue"] == hunt.clues[1][0]


def test_no_answer_does_not_advance_a_solve() -> None:
    pop = population(players=1, mix=SOLVE_ONLY, wrong_answer_rate=0.0)
    join = pop.next_action()
    assert join is not None
    pop.settle(join, applied(join))
    solve = pop.next_action()
    assert solve is not None
    pop.settle(solve, None)
    assert pop.players[solve.player].next_clue == 0


def test_wrong_answers_come_at_the_configured_rate() -> None:
    pop = population(players=1, mix=SOLVE_ONLY, wrong_answer_rate=0.3, seed=11)
    join = pop.next_action()
    assert join is not None
    pop.settle(join, applied(join))
    answers = []
    for _ in range(2000):
        solve = pop.next_action()
        assert solve is not None and solve.body is not None
        answers.append(solve.body["answer"].startswith("not-"))
        pop.settle(solve, None)
    assert sum(answers) / len(answers) == pytest.approx(0.3, abs=0.03)


def test_a_player_with_a_request_in_flight_is_not_picked_again() -> None:
    pop = population(players=3)
    taken = [pop.next_action() for _ in range(3)]
    assert {action.player for action in taken if action is not None} == {1, 2, 3}
    assert pop.next_action() is None
    assert taken[1] is not None
    pop.settle(taken[1], None)
    again = pop.next_action()
    assert again is not None and again.player == taken[1].player


def test_event_ids_carry_the_run_tag_and_never_repeat() -> None:
    ids = [body["id"] for _, _, _, body in play(population(), 400) if body is not None]
    assert all(event_id.startswith("run7-") for event_id in ids)
    assert len(set(ids)) == len(ids)


def test_requests_have_the_api_shapes() -> None:
    seen: dict[str, tuple[str, str, Any]] = {}
    for kind, player, path, body in play(population(players=5), 600):
        seen.setdefault(kind, (path, str(player), body))
    assert set(seen) == {"join", "checkin", "solve", "hint", "claim", "leaderboard", "player"}
    assert seen["checkin"][2].keys() == {"id", "type", "hunt", "player", "place"}
    assert seen["solve"][2].keys() == {"id", "type", "hunt", "player", "clue", "answer"}
    assert seen["hint"][2].keys() == {"id", "type", "hunt", "player", "clue"}
    assert seen["claim"][2].keys() == {"id", "type", "hunt", "player", "treasure"}
    assert seen["leaderboard"][0].endswith("/leaderboard") and seen["leaderboard"][2] is None
    assert seen["player"][0] == f"/v1/players/{seen['player'][1]}"


def test_ledger_counts_sent_acked_and_wins() -> None:
    pop = population(players=4, mix=ActionMix(0, 0, 0, 1, 0, 0))
    actions = [pop.next_action() for _ in range(4)]
    for action in actions:
        assert action is not None
        pop.settle(action, applied(action))
    claims = [pop.next_action() for _ in range(4)]
    for index, claim in enumerate(claims):
        assert claim is not None and claim.body is not None
        status = "won" if index == 0 else "already_claimed"
        pop.settle(claim, [{"id": claim.body["id"], "status": status}])
    ledger = pop.ledger
    assert ledger.sent_by_type == {"join": 4, "claim": 4}
    assert ledger.acked_by_type == {"join": 4, "claim": 4}
    assert sum(ledger.wins_seen.values()) == 1


def test_hunt_description_is_read_from_the_api_shape() -> None:
    hunt = Hunt.from_json(
        {"hunt": 1, "places": [1, 2], "clues": [{"clue": 1, "answer": "amber"}], "treasures": [1]}
    )
    assert hunt == Hunt(1, (1, 2), ((1, "amber"),), (1,))
    with pytest.raises(ValueError, match="malformed"):
        Hunt.from_json({"hunt": 1, "places": [1]})
