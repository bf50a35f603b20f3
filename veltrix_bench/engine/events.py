"""Event shapes of the Veltrix API: decoding and validation with errors that name the field."""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple, NoReturn

import msgspec

from veltrix_bench.engine.config import WorldConfig

EVENT_TYPES = ("join", "checkin", "solve", "hint", "claim")

# The one type-specific id field of each event type, and the world size that bounds it.
_TARGET_FIELD: dict[str, tuple[str, str] | None] = {
    "join": None,
    "checkin": ("place", "places_per_hunt"),
    "solve": ("clue", "clues_per_hunt"),
    "hint": ("clue", "clues_per_hunt"),
    "claim": ("treasure", "treasures_per_hunt"),
}
_COMMON = frozenset(("id", "type", "hunt", "player"))
_ALLOWED = {
    kind: _COMMON | ({target[0]} if target else set()) | ({"answer"} if kind == "solve" else set())
    for kind, target in _TARGET_FIELD.items()
}
MAX_ID_LENGTH = 200


class Event(NamedTuple):
    id: str
    type: str
    hunt: int
    player: int
    target: int  # place, clue or treasure; 0 for join
    answer: str | None


class EventError(ValueError):
    """A bad event: `field` names what is wrong, for the 400 answer."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def decode_events(body: bytes, world: WorldConfig) -> list[Event]:
    """Events from a request body holding one event object or an array of them."""
    try:
        # UTF-8 strictly, as JSON is sent: json.loads(bytes) would also take UTF-16 and
        # surrogates encoded in UTF-8, which no string of a valid event can hold
        text = body.decode()
        document = json.loads(text, parse_constant=_not_json)
    except UnicodeDecodeError as exc:
        raise EventError("body", f"not UTF-8 (byte {exc.start}: {exc.reason})") from None
    except RecursionError:
        raise EventError("body", "nested too deeply for an event or an array of events") from None
    except ValueError as exc:
        raise EventError("body", f"not valid JSON ({exc})") from None
    if "\\u" in text:  # escapes may spell a lone surrogate, which SQLite cannot store
        _refuse_lone_surrogates(document)
    if isinstance(document, dict):
        return [parse_event(document, world, "")]
    if isinstance(document, list):
        if not document:
            raise EventError("body", "an empty array holds no events")
        return [parse_event(item, world, f"[{i}].") for i, item in enumerate(document)]
    raise EventError("body", "expected an event object or an array of events")


def _not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not a JSON value")


def _refuse_lone_surrogates(document: Any) -> None:
    """EventError if any key or string in `document` holds half of a UTF-16 surrogate pair."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
            stack.extend(item.keys())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode()
            except UnicodeEncodeError as exc:
                lone = f"\\u{ord(item[exc.start]):04x}"
                raise EventError("body", f"not valid JSON (a lone surrogate {lone})") from None


def parse_event(raw: Any, world: WorldConfig, prefix: str = "") -> Event:
    if not isinstance(raw, dict):
        raise EventError(prefix.rstrip(".") or "body", "expected an event object")
    event_id = raw.get("id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_ID_LENGTH:
        raise EventError(f"{prefix}id", f"required: a string of 1 to {MAX_ID_LENGTH} characters")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in _TARGET_FIELD:
        raise EventError(f"{prefix}type", f"must be one of {', '.join(EVENT_TYPES)}")
    unknown = raw.keys() - _ALLOWED[kind]
    if unknown:
        raise EventError(f"{prefix}{sorted(unknown)[0]}", f"not a field of a {kind} event")
    hunt = _bounded_id(raw, "hunt", world.hunts, prefix)
    player = _bounded_id(raw, "player", world.players, prefix)
    target_field = _TARGET_FIELD[kind]
    target = 0
    if target_field is not None:
        name, size_key = target_field
        target = _bounded_id(raw, name, getattr(world, size_key), prefix)
    answer = None
    if kind == "solve":
        answer = raw.get("answer")
        if not isinstance(answer, str):
            raise EventError(f"{prefix}answer", "required: a string")
    return Event(event_id, kind, hunt, player, target, answer)


def _bounded_id(raw: dict[str, Any], name: str, upper: int, prefix: str) -> int:
    value = raw.get(name)
    if value is None:
        raise EventError(f"{prefix}{name}", "required: an integer id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise EventError(f"{prefix}{name}", f"must be an integer, got {type(value).__name__}")
    if not 1 <= value <= upper:
        raise EventError(f"{prefix}{name}", f"out of range: must be 1..{upper}, got {value}")
    return value


# -- the lean decoder (http.decoder = "msgspec") ------------------------------------------------
# msgspec decodes straight into one typed object per event, checking types and unknown keys
# in C: no dict per event, no key strings, no per-field Python checks for what it covers.


class _WireEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    # UNSET, not None, for an absent field: a null is then a wrong type, named like any other,
    # and a field the event's type lacks is refused even when it is null
    id: str
    type: str
    hunt: int
    player: int
    place: int | msgspec.UnsetType = msgspec.UNSET
    clue: int | msgspec.UnsetType = msgspec.UNSET
    treasure: int | msgspec.UnsetType = msgspec.UNSET
    answer: str | msgspec.UnsetType = msgspec.UNSET


_WIRE = msgspec.json.Decoder(_WireEvent | list[_WireEvent])
_MSGSPEC_PATH = re.compile(r"`\$((?:\[\d+\]|\.\w+)*)`")
_MSGSPEC_FIELD = re.compile(r"field `(\w+)`")


def decode_events_lean(body: bytes, world: WorldConfig) -> list[Event]:
    """Like `decode_events`, with msgspec: the same events and the same 400 field names."""
    try:
        document = _WIRE.decode(body)
    except msgspec.ValidationError as exc:
        raise _field_error(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise EventError("body", f"not valid JSON ({exc})") from None
    if isinstance(document, _WireEvent):
        return [_check_wire(document, world, "")]
    if not document:
        raise EventError("body", "an empty array holds no events")
    return [_check_wire(item, world, f"[{i}].") for i, item in enumerate(document)]


def _field_error(message: str) -> EventError:
    """An EventError naming the field a msgspec validation message points at."""
    path = _MSGSPEC_PATH.search(message)
    where = path.group(1).lstrip(".") if path else ""
    named = _MSGSPEC_FIELD.search(message)  # "missing required field `x`", "unknown field `x`"
    if named:
        where = f"{where}.{named.group(1)}" if where else named.group(1)
    text = message.split(" - at ")[0]
    if "Expected `object`" in text and not where:
        return EventError("body", "expected an event object or an array of events")
    return EventError(where or "body", text)


def _check_wire(wire: _WireEvent, world: WorldConfig, prefix: str) -> Event:
    if not 0 < len(wire.id) <= MAX_ID_LENGTH:
        raise EventError(f"{prefix}id", f"required: a string of 1 to {MAX_ID_LENGTH} characters")
    kind = wire.type
    if kind not in _TARGET_FIELD:
        raise EventError(f"{prefix}type", f"must be one of {', '.join(EVENT_TYPES)}")
    for name in ("place", "clue", "treasure", "answer"):
        if getattr(wire, name) is not msgspec.UNSET and name not in _ALLOWED[kind]:
            raise EventError(f"{prefix}{name}", f"not a field of a {kind} event")
    _in_range(wire.hunt, "hunt", world.hunts, prefix)
    _in_range(wire.player, "player", world.players, prefix)
    target = 0
    target_field = _TARGET_FIELD[kind]
    if target_field is not None:
        name, size_key = target_field
        value = getattr(wire, name)
        if value is msgspec.UNSET:
            raise EventError(f"{prefix}{name}", "required: an integer id")
        target = _in_range(value, name, getattr(world, size_key), prefix)
    answer = None if isinstance(wire.answer, msgspec.UnsetType) else wire.answer
    if kind == "solve" and answer is None:
        raise EventError(f"{prefix}answer", "required: a string")
    return Event(wire.id, kind, wire.hunt, wire.player, target, answer)


def _in_range(value: int, name: str, upper: int, prefix: str) -> int:
    if not 1 <= value <= upper:
        raise EventError(f"{prefix}{name}", f"out of range: must be 1..{upper}, got {value}")
    return value


DECODERS = {"json": decode_events, "msgspec": decode_events_lean}
