"""Load a TOML file into a pydantic model, turning every failure into a ConfigError naming it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from veltrix_bench.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


def read_toml(path: Path) -> dict[str, Any]:
    """The file's tables; a ConfigError of one line if it cannot be read or is not TOML."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x}); "
            "TOML files are UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def validate(
    model: type[Model], data: dict[str, Any], source: Path | str | None = None, what: str = "key"
) -> Model:
    """Validate `data`; on failure a ConfigError listing every problem, one per line, each
    naming the file (`source`), the key (or what else `what` says it is: an option) and what
    was expected.

    Unknown keys come first: a misspelt key is usually why another one is missing or wrong,
    so the first line is the one to read.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
        where = "" if source is None else f"{source}: "
        lines = [f"{where}{what} '{_key(error)}': {_describe(error)}" for error in problems]
        raise ConfigError("\n".join(lines)) from None


def _key(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top level)"


def _describe(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = error["msg"].removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    given = error.get("input")
    if isinstance(given, dict):
        return message  # a whole table: the message says what is wrong with it
    return f"{message} (got {given!r})"
