"""Load a TOML file into a pydantic model, turning every failure into one ConfigError line."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from veltrix_bench.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:  # a directory, no permission
        raise ConfigError(f"{path}: cannot read it ({str(exc.strerror).lower()})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (a TOML file is UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def validate(model: type[Model], data: dict[str, Any], source: Path | str) -> Model:
    """Validate `data`; on failure name the file, the key and what was expected."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        expected = _describe(first)
        more = len(exc.errors()) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{source}: key '{key}': {expected}{tail}") from None


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    given = error.get("input")
    shown = repr(given) if not isinstance(given, dict) else "a table"
    return f"{error['msg'].lower()} (got {shown})"
