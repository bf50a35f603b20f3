"""Conformance checks of an engine against the contract, as `vbench check-target URL` runs them.

Each check answers one question about the target and says pass, fail or warn with why: the
routes answer in their documented shapes; a bad event gets 400 naming the field; a retried
id returns its first result and applies nothing twice; one winner among many concurrent
claims of a treasure; after a burst, acknowledged equals persisted; a 429 carries
Retry-After. Optional parts (stats, metrics, the served document) that are missing are
warnings saying what a run will lack. The whole run is bounded in requests and time.

The target should be a fresh engine (or one whose hunt 1 still has an unclaimed treasure):
the checks play hunt 1 with players 1..200 and judge counters by their differences.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import msgspec
from prometheus_client.parser import text_string_to_metric_families

from veltrix_bench.contract.openapi import (
    document,
    optional_route,
    optional_stats,
    referenced_id,
    vbench_metrics,
)
from veltrix_bench.contract.probe import Answer, BudgetSpent, Probe, Unanswered
from veltrix_bench.errors import RunFailed

HUNT = 1
NO_SUCH_ID = 1_000_000_000  # beyond any world the engine config allows
_SETTLE_TIMEOUT_S = 5.0
T = TypeVar("T")


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"


class Check(msgspec.Struct, frozen=True):
    name: str
    verdict: Verdict
    detail: str


class ConformanceResult(msgspec.Struct, frozen=True):
    """What `check_target` found: one row per check, and what it cost."""

    target: str
    checks: tuple[Check, ...]
    requests: int
    elapsed_s: float

    @property
    def passed(self) -> bool:
        """No check failed (warnings allowed): `check-target` exits 0."""
        return all(check.verdict != Verdict.FAIL for check in self.checks)

    def verdicts(self) -> dict[str, Verdict]:
        return {check.name: check.verdict for check in self.checks}


@dataclass(frozen=True)
class Limits:
    """Bounds of one conformance run; the defaults suit an engine on the same machine."""

    max_requests: int = 3000
    max_seconds: float = 180.0
    request_timeout_s: float = 15.0
    claimers: int = 200
    """Players joined to hunt 1, and the number of concurrent claims of one treasure."""
    burst_waves: tuple[tuple[int, int], ...] = ((16, 25), (32, 50), (64, 100))
    """(concurrent requests, events per request) of each burst wave. The waves stop at the
    first 429, or after a wave that took longer than `burst_slow_wave_s`: the target queued
    it rather than refusing, and a bigger wave would only queue longer."""
    burst_slow_wave_s: float = 2.0


@dataclass
class _Run:
    """What the checks learn and share as they go."""

    probe: Probe
    limits: Limits
    tag: str = field(default_factory=lambda: f"vbc-{secrets.token_hex(4)}")
    sequence: itertools.count[int] = field(default_factory=itertools.count)
    places: list[int] = field(default_factory=list)
    treasures: list[int] = field(default_factory=list)
    players: list[int] = field(default_factory=list)
    stats_served: bool = False

    def event(self, kind: str, player: int, **fields: Any) -> dict[str, Any]:
        """A valid event of hunt 1 with a fresh id."""
        event_id = f"{self.tag}-{next(self.sequence)}"
        return {"id": event_id, "type": kind, "hunt": HUNT, "player": player, **fields}

    def checkin(self, player: int) -> dict[str, Any]:
        return self.event("checkin", player, place=self.places[player % len(self.places)])

    async def stats(self) -> dict[str, Any] | None:
        """GET /v1/stats when the target serves it in shape; None otherwise."""
        if not self.stats_served:
            return None
        answer = await self.probe.call("GET", "/v1/stats")
        return answer.json() if answer.status == 200 and not answer.problems else None

    async def settled_stats(self) -> dict[str, Any] | None:
        """Stats once nothing is queued or in flight (as vbench reads them after a load)."""
        deadline = time.monotonic() + _SETTLE_TIMEOUT_S
        stats = await self.stats()
        while stats and (stats.get("queue_depth") or stats.get("requests_in_flight")):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
            stats = await self.stats()
        return stats


class _Prerequisite(Exception):
    """A check cannot run because an earlier one found what it needs missing."""


class _Mismatch(Exception):
    """An answer is not what the contract says: the check fails with this message."""


Outcome = tuple[Verdict, str]
CheckFunction = Callable[[_Run], Awaitable[Outcome]]


def _shape_failure(answers: list[Answer]) -> str | None:
    problems = [problem for answer in answers for problem in answer.problems]
    if not problems:
        return None
    more = f" (and {len(problems) - 2} more)" if len(problems) > 2 else ""
    return "; ".join(problems[:2]) + more


def _expect(answer: Answer, status: int, named: str | None = None) -> str | None:
    """Why `answer` is not a conforming answer with `status` (and, for an error, naming the
    field `named`); None when it is."""
    if answer.status != status:
        return f"{answer.label} answered {answer.status}, expected {status}"
    if shape := _shape_failure([answer]):
        return shape
    if named is not None and answer.field() != named:
        return f"{answer.label}: {status} names field {answer.field()!r}, not {named!r}"
    return None


async def _reads(run: _Run, expected: list[tuple[str, int, str | None]]) -> list[Answer]:
    """GET each (path, status, field named): the answers, or _Mismatch saying what differs."""
    answers = [await run.probe.call("GET", path) for path, _, _ in expected]
    problems = [
        problem
        for answer, (_, status, named) in zip(answers, expected, strict=True)
        if (problem := _expect(answer, status, named))
    ]
    if problems:
        raise _Mismatch("; ".join(problems))
    return answers


# -- the routes ---------------------------------------------------------------------------


async def check_healthz(run: _Run) -> Outcome:
    await _reads(run, [("/healthz", 200, None)])
    return Verdict.PASS, "200 in shape"


async def check_hunt(run: _Run) -> Outcome:
    """The description vbench's player model reads, and the errors of the route."""
    hunt_answer, _, _ = await _reads(
        run,
        [
            (f"/v1/hunts/{HUNT}", 200, None),
            (f"/v1/hunts/{NO_SUCH_ID}", 404, None),
            ("/v1/hunts/first", 400, "hunt"),
        ],
    )
    hunt = hunt_answer.json()
    run.places = [referenced_id(place, "place") for place in hunt["places"]]
    run.treasures = [referenced_id(treasure, "treasure") for treasure in hunt["treasures"]]
    return Verdict.PASS, (
        f"hunt {HUNT}: {len(run.places)} places, {len(hunt['clues'])} clues, "
        f"{len(run.treasures)} treasures; 404 for an unknown hunt, 400 naming 'hunt'"
    )


async def check_leaderboard(run: _Run) -> Outcome:
    await _reads(
        run,
        [
            (f"/v1/hunts/{HUNT}/leaderboard", 200, None),
            (f"/v1/hunts/{NO_SUCH_ID}/leaderboard", 404, None),
        ],
    )
    return Verdict.PASS, "200 in shape; 404 for an unknown hunt"


async def check_player(run: _Run) -> Outcome:
    await _reads(run, [("/v1/players/1", 200, None), ("/v1/players/someone", 400, "player")])
    return Verdict.PASS, "200 in shape; 400 naming 'player' for a malformed id"


async def check_events(run: _Run) -> Outcome:
    """POST /v1/events answers one result per event, in order: joins players 1..claimers."""
    _needs_hunt(run)
    joins = [run.event("join", player) for player in range(1, run.limits.claimers + 1)]
    answers = await _together(
        [functools.partial(run.probe.post_events, join) for join in joins], at_once=50
    )
    problems = []
    for join, answer in zip(joins, answers, strict=True):
        if answer.status == 400 and answer.field() == "player":
            continue  # a world with fewer players: this one does not exist
        if problem := _expect(answer, 200):
            problems.append(problem)
        elif [r["id"] for r in answer.results()] != [join["id"]]:
            problems.append(f"a join was answered with results for {answer.results()}")
        else:
            run.players.append(join["player"])
    if len(run.players) < 2:
        problems.append(f"only {len(run.players)} of players 1..{len(joins)} could join")
    if problems:
        return Verdict.FAIL, _first(problems)
    pair = [run.checkin(run.players[0]), run.checkin(run.players[1])]
    answer = await run.probe.post_events(pair)
    if problem := _expect(answer, 200):
        return Verdict.FAIL, problem
    ids = [result["id"] for result in answer.results()]
    if ids != [event["id"] for event in pair]:
        return Verdict.FAIL, f"an array of 2 events was answered with results for {ids}"
    return Verdict.PASS, (
        f"{len(run.players)} players joined hunt {HUNT} one event per request; "
        "an array got one result per event, in order"
    )


async def check_stats(run: _Run) -> Outcome:
    answer = await run.probe.call("GET", "/v1/stats")
    if answer.status == 404:
        use = optional_route("/v1/stats")
        return Verdict.WARN, f"no /v1/stats (404): a run will lack {use.uses}"
    if problem := _expect(answer, 200):
        return Verdict.FAIL, f"{problem}; a run cannot use these stats"
    run.stats_served = True
    stats = answer.json()
    lacking = [use for use in optional_stats() if use.name not in stats]
    if lacking:
        names = ", ".join(use.name for use in lacking)
        reasons = "; ".join(sorted({use.uses for use in lacking}))
        return Verdict.WARN, f"/v1/stats lacks {names}: {reasons}"
    return Verdict.PASS, "200 in shape, with every key vbench reads"


async def check_metrics(run: _Run) -> Outcome:
    answer = await run.probe.call("GET", "/metrics")
    if answer.status == 404:
        return Verdict.WARN, f"no /metrics (404): a run will lack {optional_route('/metrics').uses}"
    if problem := _expect(answer, 200):
        return Verdict.FAIL, problem
    try:
        names = {family.name for family in text_string_to_metric_families(answer.body.decode())}
    except (ValueError, UnicodeDecodeError) as exc:
        return Verdict.FAIL, f"/metrics is not Prometheus text: {exc}"
    lacking = [metric for metric in vbench_metrics() if metric.name not in names]
    if lacking:
        return Verdict.WARN, "; ".join(f"no {m.name}: a run will lack {m.uses}" for m in lacking)
    return Verdict.PASS, "Prometheus text with " + ", ".join(m.name for m in vbench_metrics())


async def check_openapi(run: _Run) -> Outcome:
    answer = await run.probe.call("GET", "/openapi.json")
    if answer.status == 404:
        use = optional_route("/openapi.json")
        return Verdict.WARN, f"no /openapi.json (404): {use.uses}"
    if problem := _expect(answer, 200):
        return Verdict.FAIL, problem
    served = answer.json()["info"]["version"]
    ours = document()["info"]["version"]
    if served != ours:
        return Verdict.WARN, f"serves contract version {served}; vbench speaks {ours}"
    return Verdict.PASS, f"serves contract version {ours}"


# -- the behaviour ------------------------------------------------------------------------


def _bad_events(run: _Run) -> list[tuple[str, Any, str]]:
    """(what is wrong, body, the field a 400 must name)."""
    player = run.players[0]

    def valid(**changes: Any) -> dict[str, Any]:
        event = run.checkin(player)
        event.update(changes)
        return {key: value for key, value in event.items() if value is not None}

    return [
        ("body not JSON", b'{"id": "x", "type": ', "body"),
        ("empty array", [], "body"),
        ("a number for a body", 7, "body"),
        ("no id", valid(id=None), "id"),
        ("empty id", valid(id=""), "id"),
        ("unknown type", valid(type="dance"), "type"),
        ("hunt as a string", valid(hunt="1"), "hunt"),
        ("hunt 0", valid(hunt=0), "hunt"),
        ("hunt beyond the world", valid(hunt=NO_SUCH_ID), "hunt"),
        ("no player", valid(player=None), "player"),
        ("checkin without place", valid(place=None), "place"),
        ("place as a float", valid(place=1.5), "place"),
        ("unknown field", valid(colour="red"), "colour"),
        ("solve without answer", run.event("solve", player, clue=1), "answer"),
        ("claim without treasure", run.event("claim", player), "treasure"),
        ("bad second element", [valid(), valid(hunt=-3)], "[1].hunt"),
    ]


async def check_bad_events(run: _Run) -> Outcome:
    _needs_players(run)
    cases = _bad_events(run)
    problems = []
    for what, body, named in cases:
        raw = body if isinstance(body, bytes) else None
        answer = await run.probe.call("POST", "/v1/events", body=None if raw else body, raw=raw)
        if problem := _expect(answer, 400, named):
            problems.append(f"{what}: {problem}")
    if problems:
        return Verdict.FAIL, f"{len(problems)} of {len(cases)} bad events: " + _first(problems)
    return Verdict.PASS, f"{len(cases)} bad events each answered 400 naming the field"


async def check_retried_id(run: _Run) -> Outcome:
    """An id sent again after its answer, or several times at once, is answered with its
    first result and applied once: seen in the player's score, and in the stats."""
    _needs_players(run)
    player = run.players[0]
    problems: list[str] = []

    async def send() -> None:
        first = run.checkin(player)
        once = await _results_of(run, "first send", first, problems)
        again = await _results_of(run, "sent again after its answer", first, problems)
        if again != once:
            problems.append(f"sent again after its answer: got {again}, first {once}")
        copy = run.checkin(player)
        send_copy = functools.partial(_results_of, run, "5 copies at once", copy, problems)
        copies = await _together([send_copy] * 5)
        if any(results != copies[0] for results in copies):
            problems.append(f"5 copies of one id sent at once got different results: {copies}")

    return await _applied_once(
        run, player, send, ids=2, problems=problems, what="two ids, each sent several times"
    )


async def check_duplicate_in_request(run: _Run) -> Outcome:
    """One id twice in one array: both answered with the first copy's result, applied once."""
    _needs_players(run)
    player = run.players[0]
    problems: list[str] = []

    async def send() -> None:
        twice = run.checkin(player)
        results = await _results_of(run, "twice in one array", [twice, twice], problems)
        if len(results) == 2 and results[0] != results[1]:
            problems.append(f"one id twice in one array got different results: {results}")

    return await _applied_once(
        run, player, send, ids=1, problems=problems, what="one id twice in one array"
    )


async def _applied_once(
    run: _Run,
    player: int,
    send: Callable[[], Awaitable[None]],
    *,
    ids: int,
    problems: list[str],
    what: str,
) -> Outcome:
    """Judge `send` (checkins of `player` under `ids` distinct ids, some sent more than once)
    by what it added to the player's score against what one more checkin adds, and by how
    much `persisted` grew in the stats when they are served."""
    stats_before = await run.settled_stats()
    before = await _score(run, player)
    await send()
    after_send = await _score(run, player)
    await _results_of(run, "one more checkin", run.checkin(player), problems)
    step = await _score(run, player) - after_send  # what one checkin adds
    if after_send - before != ids * step:
        problems.append(f"{what} added {after_send - before} to the score; one checkin adds {step}")
    stats_after = await run.settled_stats()
    counted = stats_before is not None and stats_after is not None
    if stats_before is not None and stats_after is not None:
        grew = _total(stats_after["persisted"]) - _total(stats_before["persisted"])
        if grew != ids + 1:
            problems.append(f"{what}, then one more checkin: persisted grew by {grew}")
    if problems:
        return Verdict.FAIL, _first(problems)
    if step == 0 and not counted:
        return Verdict.WARN, f"{what}: neither the score nor stats show what was applied"
    seen = "the score and the persisted count" if counted else "the score"
    return Verdict.PASS, f"{what}: each answered with its first result, applied once ({seen})"


async def check_one_winner(run: _Run) -> Outcome:
    """Many concurrent claims of one treasure: exactly one `won`, the rest `already_claimed`."""
    _needs_players(run)
    claimers = [run.players[i % len(run.players)] for i in range(run.limits.claimers)]
    for treasure in run.treasures:
        stats_before = await run.settled_stats()
        claims = [run.event("claim", player, treasure=treasure) for player in claimers]
        answers = await _together(
            [functools.partial(run.probe.post_events, claim) for claim in claims]
        )
        if shape := _shape_failure(answers):
            return Verdict.FAIL, shape
        statuses = Counter(result["status"] for answer in answers for result in answer.results())
        unanswered = len(claims) - sum(statuses.values())
        if statuses == Counter(already_claimed=len(claims)):
            continue  # won before this run: try the next treasure
        counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        where = f"{len(claims)} concurrent claims of hunt {HUNT} treasure {treasure}"
        if statuses["won"] != 1 or statuses["already_claimed"] != len(claims) - 1:
            lost = f" ({unanswered} got no 200)" if unanswered else ""
            return Verdict.FAIL, f"{where}: {counts}{lost}"
        stats_after = await run.settled_stats()
        if stats_before and stats_after:
            grew = stats_after["treasures_won"] - stats_before["treasures_won"]
            if grew != 1:
                return Verdict.FAIL, f"{where}: one won, but treasures_won grew by {grew}"
        return Verdict.PASS, f"{where}: {counts}"
    return Verdict.WARN, (
        f"every treasure of hunt {HUNT} was already won: run check-target on a fresh engine"
    )


@dataclass
class _Burst:
    acknowledged: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    full: list[Answer] = field(default_factory=list)  # the 429s
    shapes: list[str] = field(default_factory=list)
    requests: int = 0
    events: int = 0
    notes: list[str] = field(default_factory=list)


async def _burst(run: _Run) -> _Burst:
    """Waves of concurrent arrays of checkins, growing until the target answers 429."""
    burst = _Burst()
    shrink = 1
    for connections, per_request in run.limits.burst_waves:
        size = max(1, per_request // shrink)
        wave_started = time.monotonic()
        arrays = [
            [run.checkin(run.players[(c * size + i) % len(run.players)]) for i in range(size)]
            for c in range(connections)
        ]
        answers = await _together(
            [
                functools.partial(run.probe.post_events, array, retry_when_full=False)
                for array in arrays
            ]
        )
        burst.requests += len(arrays)
        burst.events += len(arrays) * size
        for answer in answers:
            burst.statuses[answer.status] += 1
            burst.acknowledged["checkin"] += len(answer.results())
            if answer.status == 429:
                burst.full.append(answer)  # judged by the retry_after check
            else:
                burst.shapes.extend(answer.problems)
        if burst.full:
            break
        if any(answer.status == 413 for answer in answers):
            shrink *= 2
            burst.notes.append(f"arrays of {size} events got 413, so the next are halved")
        elif time.monotonic() - wave_started > run.limits.burst_slow_wave_s:
            burst.notes.append(
                f"a wave of {len(arrays)} x {size} events took over "
                f"{run.limits.burst_slow_wave_s:g} s: the target queued it rather than refuse"
            )
            break
    return burst


async def check_burst(run: _Run) -> list[Check]:
    """One burst, judged twice: acknowledged equals persisted, and 429 carries Retry-After."""
    _needs_players(run)
    stats_before = await run.settled_stats()
    burst = await _burst(run)
    stats_after = await run.settled_stats()
    sent = f"{burst.events} events in {burst.requests} requests"
    return [
        Check("acked_equals_persisted", *_judge_counts(burst, sent, stats_before, stats_after)),
        Check("retry_after", *_judge_backpressure(burst, sent)),
    ]


def _judge_counts(
    burst: _Burst, sent: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> Outcome:
    odd = {code: n for code, n in burst.statuses.items() if code not in (200, 413, 429)}
    if odd:
        return Verdict.FAIL, f"{sent}: answered {odd}"
    if burst.shapes:
        return Verdict.FAIL, _first(burst.shapes)
    seen = dict(burst.acknowledged)
    if before is None or after is None:
        return Verdict.WARN, f"{sent}: {seen} answered 200; no /v1/stats to compare with"
    acknowledged = _delta(after["acknowledged"], before["acknowledged"])
    persisted = _delta(after["persisted"], before["persisted"])
    if not acknowledged == persisted == seen:
        return Verdict.FAIL, (
            f"{sent}: answered 200 {seen}, but acknowledged grew by {acknowledged} "
            f"and persisted by {persisted}"
        )
    return Verdict.PASS, f"{sent}: acknowledged and persisted both grew by {seen}"


def _judge_backpressure(burst: _Burst, sent: str) -> Outcome:
    if not burst.full:
        why = "; ".join(burst.notes) or "its queue drained faster than the burst filled it"
        return Verdict.WARN, (
            f"no 429 within {sent} ({why}): back-pressure was not seen, so Retry-After was "
            "not checked"
        )
    bad = [problem for answer in burst.full for problem in answer.problems]
    if bad:
        return Verdict.FAIL, f"{len(burst.full)} answers 429: " + _first(bad)
    return Verdict.PASS, f"{len(burst.full)} of {burst.requests} requests got 429, each in shape"


# -- running them -------------------------------------------------------------------------


CHECKS: tuple[tuple[str, CheckFunction], ...] = (
    ("healthz", check_healthz),
    ("hunt", check_hunt),
    ("events", check_events),
    ("leaderboard", check_leaderboard),
    ("player", check_player),
    ("stats", check_stats),
    ("metrics", check_metrics),
    ("openapi", check_openapi),
    ("bad_event_400", check_bad_events),
    ("retried_id", check_retried_id),
    ("duplicate_in_request", check_duplicate_in_request),
    ("one_winner", check_one_winner),
)
BURST_CHECKS = ("acked_equals_persisted", "retry_after")


def check_target(base_url: str, limits: Limits | None = None) -> ConformanceResult:
    """Run every check against the engine at `base_url` (e.g. http://127.0.0.1:8080).

    Raises RunFailed when the target does not answer at all. Whether the URL may be
    reached (loopback unless allowed) is for the caller to decide.
    """
    return asyncio.run(_check_target(base_url, limits or Limits()))


async def _check_target(base_url: str, limits: Limits) -> ConformanceResult:
    started = time.monotonic()
    probe = Probe(
        base_url,
        max_requests=limits.max_requests,
        max_seconds=limits.max_seconds,
        request_timeout_s=limits.request_timeout_s,
        connections=max(limits.claimers, *(c for c, _ in limits.burst_waves)),
    )
    async with probe:
        try:
            await probe.call("GET", "/healthz")
        except Unanswered as exc:
            raise RunFailed(f"target {base_url} is unreachable: {exc}") from None
        run = _Run(probe, limits)
        checks = [await _one(name, function, run) for name, function in CHECKS]
        checks.extend(await _burst_checks(run))
    return ConformanceResult(base_url, tuple(checks), probe.requests, time.monotonic() - started)


async def _one(name: str, function: CheckFunction, run: _Run) -> Check:
    try:
        return Check(name, *await function(run))
    except _Mismatch as exc:
        return Check(name, Verdict.FAIL, str(exc))
    except (BudgetSpent, Unanswered, _Prerequisite) as exc:
        return Check(name, Verdict.FAIL, f"not finished: {exc}")


async def _burst_checks(run: _Run) -> list[Check]:
    try:
        return await check_burst(run)
    except (BudgetSpent, Unanswered, _Prerequisite) as exc:
        return [Check(name, Verdict.FAIL, f"not finished: {exc}") for name in BURST_CHECKS]


# -- small helpers ------------------------------------------------------------------------


def _needs_hunt(run: _Run) -> None:
    if not run.places or not run.treasures:
        raise _Prerequisite(f"GET /v1/hunts/{HUNT} gave no usable hunt (see the hunt check)")


def _needs_players(run: _Run) -> None:
    _needs_hunt(run)
    if len(run.players) < 2:
        raise _Prerequisite("players could not join hunt 1 (see the events check)")


async def _together(
    calls: list[Callable[[], Awaitable[T]]], *, at_once: int | None = None
) -> list[T]:
    """Run `calls` concurrently (at most `at_once` in flight); on the first error the rest
    are cancelled, so no request goes out after the budget ran out."""
    gate = asyncio.Semaphore(at_once or len(calls) or 1)

    async def bounded(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    tasks = [asyncio.ensure_future(bounded(call)) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _results_of(
    run: _Run, what: str, events: Any, problems: list[str]
) -> list[dict[str, Any]]:
    """The results of a POST that must be answered 200; else why, noted in `problems`."""
    answer = await run.probe.post_events(events)
    if problem := _expect(answer, 200):
        problems.append(f"{what}: {problem}")
    return answer.results()


async def _score(run: _Run, player: int) -> int:
    answer = await run.probe.call("GET", f"/v1/players/{player}")
    if problem := _expect(answer, 200):
        raise _Prerequisite(problem)
    hunts = answer.json()["hunts"]
    return sum(entry["score"] for entry in hunts if entry["hunt"] == HUNT)


def _total(counts: dict[str, int]) -> int:
    return sum(counts.values())


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    kinds = set(after) | set(before)
    grown = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in sorted(kinds)}
    return {kind: n for kind, n in grown.items() if n}


def _first(problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more
