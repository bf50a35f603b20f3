"""Stack frames as both profilers report them, and matching a frame's file against a path rule."""

from __future__ import annotations

import re
from dataclasses import dataclass

# py-spy's raw format writes each frame as `function (file:line)`; the line is absent under
# --nolineno and the parenthesis is absent for frames it could not resolve.
_PYSPY_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_SITE_PACKAGES = re.compile(r"^.*?/(?:site|dist)-packages/")
_STDLIB = re.compile(r"^.*?/lib/python3\.\d+/")


@dataclass(frozen=True)
class Frame:
    function: str
    file: str  # as the profiler gave it: a full path (memray) or a shortened one (py-spy)
    line: int = 0

    @classmethod
    def from_pyspy(cls, text: str) -> Frame:
        match = _PYSPY_FRAME.match(text)
        if match is None:
            return cls(text, "")
        line = match.group("line")
        return cls(match.group("function"), match.group("file"), int(line) if line else 0)

    @property
    def short_file(self) -> str:
        return short_path(self.file)

    @property
    def label(self) -> str:
        """`function (file)`: how a frame is named in tables, without its line."""
        return f"{self.function} ({self.short_file})" if self.file else self.function


def short_path(path: str) -> str:
    """The package-relative part of a path: `aiohttp/web_protocol.py`, `asyncio/streams.py`.

    py-spy already shortens paths this way; memray gives full ones, so both read alike.
    """
    path = path.replace("\\", "/")
    for prefix in (_SITE_PACKAGES, _STDLIB):
        shortened, replaced = prefix.subn("", path, count=1)
        if replaced:
            return shortened
    marker = path.rfind("/veltrix_bench/")
    return path[marker + 1 :] if marker >= 0 else path


def path_matches(path: str, rule: str) -> bool:
    """Whether `path` is the file `rule` names (`pkg/mod.py`) or lies in its package (`pkg/`).

    Matching is on whole path components, so `yarl/` does not match `/work/notyarl/x.py`.
    """
    path = "/" + path.replace("\\", "/").lstrip("/")
    if rule.endswith("/"):
        return f"/{rule}" in path
    return path.endswith(f"/{rule}")
