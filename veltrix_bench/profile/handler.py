"""Which stack frames belong to the engine's event handler: its own list, or a user's regex."""

from __future__ import annotations

import re
from dataclasses import dataclass

from veltrix_bench.errors import ConfigError
from veltrix_bench.profile.frames import Frame, path_matches


@dataclass(frozen=True)
class HandlerMatcher:
    """Matches frames by `file.py` / `file.py:function` specs, or by a regex on `function (file)`.

    `description` says in one phrase which rule was used, for the summary.
    """

    specs: tuple[tuple[str, str | None], ...] = ()
    pattern: re.Pattern[str] | None = None
    description: str = ""

    @classmethod
    def from_specs(cls, specs: tuple[str, ...] | list[str], source: str) -> HandlerMatcher:
        parsed = []
        for spec in specs:
            path, _, function = spec.partition(":")
            parsed.append((path, function or None))
        return cls(specs=tuple(parsed), description=f"frames named in {source}")

    @classmethod
    def from_regex(cls, pattern: str) -> HandlerMatcher:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                f"--handler {pattern!r} is not a valid regular expression: {exc}"
            ) from None
        return cls(pattern=compiled, description=f"frames matching the regex {pattern!r}")

    def matches(self, frame: Frame) -> bool:
        if self.pattern is not None:
            return self.pattern.search(frame.label) is not None
        for path, function in self.specs:
            if not path_matches(frame.file, path):
                continue
            # Profilers give qualified names on 3.11+ (`Engine._post_events`), plain before.
            if function is None or frame.function.rpartition(".")[2] == function:
                return True
        return False


def engine_handler() -> HandlerMatcher:
    """The embedded engine's handler, as `HANDLER_FUNCTIONS` in its server module names it."""
    from veltrix_bench.engine.server import HANDLER_FUNCTIONS

    return HandlerMatcher.from_specs(
        HANDLER_FUNCTIONS, "veltrix_bench.engine.server.HANDLER_FUNCTIONS"
    )


def handler_matcher(regex: str | None) -> HandlerMatcher:
    """`--handler PATTERN` when given (a foreign engine), else the embedded engine's list."""
    return HandlerMatcher.from_regex(regex) if regex else engine_handler()
