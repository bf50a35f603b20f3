"""Output paths checked before anything starts: a run must not fail at its end for a bad --out."""

from __future__ import annotations

import tempfile
from pathlib import Path

from veltrix_bench.errors import UsageError


def writable_dir(path: Path, option: str) -> Path:
    """`path`, created if missing; UsageError naming `option` when nothing can be written there.

    Tried for real (create, then write a scratch file): permission bits do not say what root,
    a read-only mount or a regular file in the way will allow.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise UsageError(
            f"{option} {path}: cannot write a directory there ({_reason(exc)})"
        ) from None
    return path


def writable_file(path: Path, option: str) -> Path:
    """`path`, with its folder created; UsageError naming `option` when it cannot be written."""
    existed = path.exists()
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a"):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write this file ({_reason(exc)})") from None
    if not existed:
        path.unlink()  # only probed: the file is written when there is something to write
    return path


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()
