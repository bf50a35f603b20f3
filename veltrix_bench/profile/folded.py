"""Collapsed stacks (`root;...;leaf COUNT` per line), as py-spy's raw format writes them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from veltrix_bench.profile.errors import CaptureError
from veltrix_bench.profile.frames import Frame

_LINE = re.compile(r"^(?P<stack>.+) (?P<count>\d+)$")
_NO_FRAMES = re.compile(r"^ \d+$")
"""A sample of a thread with no Python frame on its stack (one just starting or ending):
py-spy writes an empty stack. It is left out, like an idle sample."""


@dataclass(frozen=True)
class FoldedStack:
    frames: tuple[Frame, ...]  # root first, as the file has them
    count: int


def read_folded(path: Path) -> list[FoldedStack]:
    """Every stack of a collapsed-stacks file; CaptureError naming the first bad line."""
    try:
        text = path.read_text(errors="strict")
    except FileNotFoundError:
        raise CaptureError(f"{path.name} is missing: no CPU capture to read") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaptureError(f"cannot read {path.name}: {exc}") from None
    stacks = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or _NO_FRAMES.match(line):
            continue
        match = _LINE.match(line)
        if match is None:
            raise CaptureError(
                f"{path.name} line {number} is not `frame;frame;... count`: the file is "
                "truncated or not py-spy raw output"
            )
        frames = tuple(Frame.from_pyspy(text) for text in match.group("stack").split(";"))
        stacks.append(FoldedStack(frames, int(match.group("count"))))
    return stacks
