"""Reading and writing the JSON documents of a run or compare directory through their models.

Decoding validates in the same step: a file that is missing, not JSON, or of another shape
becomes one BadRunDir line naming the file and what was wrong. Writing goes through the
standard library's encoder so the bytes on disk stay what earlier versions wrote.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from veltrix_bench.errors import BadRunDir

T = TypeVar("T")


def read_document(path: Path, model: type[T], what: str) -> T:
    """`path` decoded as `model`; `what` names the directory it belongs in ("a run directory")."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadRunDir(f"{path.parent}: not {what} (no {path.name})") from None
    except OSError as exc:
        raise BadRunDir(f"{path}: cannot read it ({(exc.strerror or str(exc)).lower()})") from None
    return decode_document(data, model, path)


def decode_document(data: bytes | str, model: type[T], source: Path | str) -> T:
    try:
        return msgspec.json.decode(data, type=model)
    except msgspec.ValidationError as exc:
        raise BadRunDir(f"{source}: not a valid {_name(source)}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise BadRunDir(f"{source}: not a valid {_name(source)}: not JSON ({exc})") from None


def document_text(document: Any) -> str:
    """A model as the JSON text vbench has always written (two-space indent, ASCII)."""
    return json.dumps(msgspec.to_builtins(document), indent=2) + "\n"


def write_document(path: Path, document: Any) -> None:
    """Write through a temporary file and a rename: a reader, or a run killed mid-write, sees
    the old document or the new one, never half of one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(document_text(document))
    os.replace(partial, path)


def _name(source: Path | str) -> str:
    return Path(source).name if isinstance(source, Path) else "document"
