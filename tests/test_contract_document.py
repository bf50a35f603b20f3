"""The contract document: a valid OpenAPI 3.1 document, its one validator of answers, and the
hunt shapes vbench's player model accepts (exactly those the document allows)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from veltrix_bench.contract.openapi import (
    answer_problems,
    document,
    document_bytes,
    operations,
    optional_stats,
    schema_problems,
    vbench_metrics,
)
from veltrix_bench.load.players import Hunt

JSON = {"Content-Type": "application/json; charset=utf-8"}


def test_the_document_is_valid_openapi_3_1() -> None:
    errors = [error.message for error in OpenAPIV31SpecValidator(dict(document())).iter_errors()]
    assert errors == []


def test_the_document_covers_every_route_vbench_uses() -> None:
    assert {op.label for op in operations()} == {
        "POST /v1/events",
        "GET /v1/hunts/{hunt}",
        "GET /v1/hunts/{hunt}/leaderboard",
        "GET /v1/players/{player}",
        "GET /v1/stats",
        "GET /healthz",
        "GET /openapi.json",
        "GET /metrics",
    }
    statuses = set(document()["paths"]["/v1/events"]["post"]["responses"])
    assert statuses == {"200", "400", "408", "413", "415", "429", "500", "503"}


def test_the_document_names_what_vbench_reads_and_what_is_optional() -> None:
    assert [m.name for m in vbench_metrics()] == [
        "veltrix_queue_depth",
        "process_resident_memory_bytes",
    ]
    assert set(document()["components"]["schemas"]["Stats"]["required"]) == {
        "acknowledged",
        "persisted",
        "treasures_won",
    }
    assert [use.name for use in optional_stats()] == ["queue_depth", "requests_in_flight"]


def test_the_document_ships_in_the_package() -> None:
    assert json.loads(document_bytes()) == document()


RESULT = b'{"results": [{"id": "e-1", "status": "applied"}]}'


@pytest.mark.parametrize(
    ("method", "path", "status", "headers", "body", "problem"),
    [
        ("POST", "/v1/events", 200, JSON, RESULT, None),
        ("POST", "/v1/events", 200, JSON, b'{"results": [{"id": "e", "status": "rejected"}]}',
         "'reason' is a required property"),
        ("POST", "/v1/events", 200, JSON, b'{"results": [{"id": "e", "status": "ok"}]}',
         "'ok' is not one of"),
        ("POST", "/v1/events", 200, {"Content-Type": "text/plain"}, RESULT, "Content-Type"),
        ("POST", "/v1/events", 200, JSON, b"not json", "the body is not application/json"),
        ("POST", "/v1/events", 400, JSON, b'{"error": "bad", "field": "hunt"}', None),
        ("POST", "/v1/events", 400, JSON, b'{"error": "bad"}', "'field' is a required property"),
        ("POST", "/v1/events", 429, {**JSON, "Retry-After": "2"}, b'{"error": "full"}', None),
        ("POST", "/v1/events", 429, JSON, b'{"error": "full"}', "no Retry-After header"),
        ("POST", "/v1/events", 429, {**JSON, "retry-after": "soon"}, b'{"error": "full"}',
         "does not match"),
        ("POST", "/v1/events", 503, JSON, b'{"error": "stopping"}', None),
        ("POST", "/v1/events", 418, JSON, b"{}", "the contract lists 200, 400"),
        ("GET", "/v1/hunts/7/leaderboard", 200, JSON, b'{"hunt": 7, "leaders": []}', None),
        ("GET", "/v1/players/3", 200, JSON, b'{"player": 3, "hunts": [{"hunt": 1}]}',
         "'score' is a required property"),
        ("GET", "/v1/stats", 200, JSON, b'{"acknowledged": 3, "persisted": {}, '
         b'"treasures_won": 0}', "3 is not of type 'object'"),
        ("GET", "/v1/stats", 200, JSON, b'{"acknowledged": {"join": 1}, "persisted": '
         b'{"join": 1}, "treasures_won": 0}', None),
        ("GET", "/metrics", 200, {"Content-Type": "text/plain; version=0.0.4"}, b"a 1\n", None),
        ("GET", "/v2/things", 200, JSON, b"{}", "not a route of the contract"),
    ],
)  # fmt: skip
def test_an_answer_is_checked_against_its_route_status_headers_and_body(
    method: str,
    path: str,
    status: int,
    headers: dict[str, str],
    body: bytes,
    problem: str | None,
) -> None:
    problems = answer_problems(method, path, status, headers, body)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems


CLUES = [{"clue": 1, "answer": "amber"}, {"clue": 2, "answer": "tide"}]


@pytest.mark.parametrize(
    ("places", "treasures", "expected"),
    [
        ([1, 2], [1], ((1, 2), (1,))),
        ([{"place": 1, "name": "gate"}, {"place": 2}], [{"treasure": 3, "v": 9}], ((1, 2), (3,))),
        ([1, {"place": 2}], [3], ((1, 2), (3,))),
    ],
)  # fmt: skip
def test_a_hunt_gives_places_and_treasures_as_ids_or_as_objects_holding_them(
    places: list[Any], treasures: list[Any], expected: tuple[tuple[int, ...], tuple[int, ...]]
) -> None:
    description = {"hunt": 4, "places": places, "clues": CLUES, "treasures": treasures, "x": 1}
    hunt = Hunt.from_json(description)
    assert (hunt.places, hunt.treasures) == expected
    assert hunt.hunt == 4 and hunt.clues == ((1, "amber"), (2, "tide"))


VALID_HUNT = {"hunt": 1, "places": [1], "clues": CLUES, "treasures": [1]}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"places": [{"id": 1}]}, "places[0]"),
        ({"places": ["1"]}, "places[0]"),
        ({"places": [True]}, "places[0]"),
        ({"places": [0]}, "places[0]"),
        ({"places": []}, "places"),
        ({"treasures": [{"place": 1}]}, "treasures[0]"),
        ({"clues": [{"clue": 1}]}, "clues[0]"),
        ({"clues": [3]}, "clues[0]"),
        ({"hunt": "1"}, "hunt"),
        ({"places": None}, "places"),
    ],
)
def test_a_hunt_of_any_other_shape_is_refused_naming_where(
    change: dict[str, Any], named: str
) -> None:
    description = {**VALID_HUNT, **change}
    assert schema_problems("Hunt", description)
    with pytest.raises(ValueError, match=f"malformed: Hunt{re.escape('.' + named)}: "):
        Hunt.from_json(description)


def test_a_hunt_without_a_required_key_is_refused() -> None:
    with pytest.raises(ValueError, match="'treasures' is a required property"):
        Hunt.from_json({"hunt": 1, "places": [1], "clues": CLUES})
