"""The engine contract as data: the OpenAPI 3.1 document shipped in the package, and the one
validator of answers and bodies against it.

Schemas are checked with `jsonschema` (Draft 2020-12, the dialect of OpenAPI 3.1): every
`$ref` is resolved inside the document through one `referencing` registry, so a schema is
checked exactly as written. What is ours here is only the walk from (method, path, status)
to the schema and headers the document gives for that answer.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_NAME = "openapi.json"
_BASE_URI = "urn:veltrix:contract"
_MAX_PROBLEMS = 3  # per body: the first few say enough, a list of hundreds says nothing


@functools.cache
def document_bytes() -> bytes:
    """The document as it ships, byte for byte (what an engine serves at /openapi.json)."""
    return resources.files(__package__).joinpath(DOCUMENT_NAME).read_bytes()


@functools.cache
def document() -> Mapping[str, Any]:
    parsed: Mapping[str, Any] = json.loads(document_bytes())
    return parsed


@dataclass(frozen=True)
class Operation:
    method: str  # lower case, as in the document
    template: str  # e.g. "/v1/hunts/{hunt}"
    pointer: str  # JSON pointer to the operation object in the document

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.template}"


@dataclass(frozen=True)
class VbenchUse:
    """An optional part of the contract and what a run lacks without it."""

    name: str
    uses: str


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _at(pointer: str) -> Any:
    node: Any = document()
    for token in pointer.split("/")[1:]:
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def _follow(pointer: str) -> tuple[str, Any]:
    """The pointer and node at `pointer`, through any local `$ref` (a Response, a Header)."""
    node = _at(pointer)
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        pointer = node["$ref"].removeprefix("#")
        node = _at(pointer)
    return pointer, node


@functools.cache
def _operations() -> tuple[tuple[re.Pattern[str], Operation], ...]:
    found = []
    for template, item in document()["paths"].items():
        segments = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        pattern = re.compile(f"^{segments}$")
        for method in item:
            if method in ("get", "post", "put", "delete", "patch"):
                pointer = f"/paths/{_escape(template)}/{method}"
                found.append((pattern, Operation(method, template, pointer)))
    return tuple(found)


def operation(method: str, path: str) -> Operation | None:
    """The documented operation a request of `method` to `path` (no query) is served by."""
    for pattern, candidate in _operations():
        if candidate.method == method.lower() and pattern.match(path):
            return candidate
    return None


def operations() -> list[Operation]:
    return [candidate for _, candidate in _operations()]


@functools.cache
def _registry() -> Registry[Any]:
    resource = Resource.from_contents(dict(document()), default_specification=DRAFT202012)
    return Registry().with_resource(_BASE_URI, resource)


@functools.cache
def _validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{_BASE_URI}#{pointer}"}, registry=_registry())


def _problems_at(pointer: str, instance: Any, where: str) -> list[str]:
    errors = sorted(_validator(pointer).iter_errors(instance), key=lambda e: list(e.path))
    problems = [f"{where}{error.json_path.removeprefix('$')}: {error.message}" for error in errors]
    if len(problems) > _MAX_PROBLEMS:
        hidden = len(problems) - _MAX_PROBLEMS
        problems = [*problems[:_MAX_PROBLEMS], f"{where}: ... and {hidden} more"]
    return problems


def schema_problems(name: str, instance: Any) -> list[str]:
    """Where `instance` breaks the component schema `name`; empty when it conforms."""
    return _problems_at(f"/components/schemas/{_escape(name)}", instance, name)


def referenced_id(reference: Any, key: str) -> int:
    """An id the contract gives bare (3) or as an object holding it under `key` ({"place": 3})."""
    return int(reference[key] if isinstance(reference, dict) else reference)


def answer_problems(
    method: str, path: str, status: int, headers: Mapping[str, str], body: bytes
) -> list[str]:
    """What in this answer the document does not allow; empty when it conforms.

    Checks that the route and the status are documented, the required headers are there
    and match their schemas, the media type is one documented, and the body matches its
    schema.
    """
    found = operation(method, path)
    if found is None:
        return [f"{method.upper()} {path} is not a route of the contract"]
    responses = _at(f"{found.pointer}/responses")
    if str(status) not in responses:
        listed = ", ".join(responses)
        return [f"{found.label} answered {status}; the contract lists {listed}"]
    response_pointer, response = _follow(f"{found.pointer}/responses/{status}")
    where = f"{found.label} {status}"
    lowered = {name.lower(): value for name, value in headers.items()}
    problems = _header_problems(response_pointer, response, lowered, where)
    content = response.get("content")
    if not content:
        return problems
    media_type = lowered.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in content:
        return [*problems, f"{where}: Content-Type {media_type or 'missing'}, not {_any(content)}"]
    schema_pointer = f"{response_pointer}/content/{_escape(media_type)}/schema"
    try:
        text = body.decode()
        instance = json.loads(text) if media_type == "application/json" else text
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past the parser's depth
        return [*problems, f"{where}: the body is not {media_type} ({exc})"]
    return [*problems, *_problems_at(schema_pointer, instance, f"{where} body")]


def _header_problems(
    response_pointer: str, response: Mapping[str, Any], headers: Mapping[str, str], where: str
) -> list[str]:
    problems = []
    for name in response.get("headers", {}):
        header_pointer, header = _follow(f"{response_pointer}/headers/{_escape(name)}")
        value = headers.get(name.lower())
        if value is None:
            if header.get("required"):
                problems.append(f"{where}: no {name} header")
            continue
        problems.extend(_problems_at(f"{header_pointer}/schema", value, f"{where} {name}"))
    return problems


def _any(names: Iterable[str]) -> str:
    return " or ".join(names)


def optional_stats() -> list[VbenchUse]:
    """The keys of /v1/stats an engine may leave out, each with what a run lacks without it."""
    stats = document()["components"]["schemas"]["Stats"]
    required = set(stats["required"])
    return [
        VbenchUse(key, spec["x-vbench-uses"])
        for key, spec in stats["properties"].items()
        if key not in required and "x-vbench-uses" in spec
    ]


def optional_route(template: str) -> VbenchUse:
    """An optional route (x-vbench-required false) and what a run lacks without it."""
    spec = document()["paths"][template]["get"]
    if spec.get("x-vbench-required", True):
        raise KeyError(f"{template} is a required route of the contract")
    return VbenchUse(template, spec["x-vbench-uses"])


def vbench_metrics() -> list[VbenchUse]:
    """The Prometheus metric names vbench reads from /metrics, with what each feeds."""
    return [VbenchUse(m["name"], m["x-vbench-uses"]) for m in document()["x-vbench-metrics"]]
