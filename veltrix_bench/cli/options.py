"""Option declarations several commands share, declared once: which engine each trial starts
(`--engine-cmd`, revisions of the engine's code), how long it may take to start, and how its
CPU is profiled.

`@engine_options(kind)` adds a group of options to a Typer command and hands the command one
`engines` argument built from them (`veltrix_bench.commands.engines` reads it):

    @app.command("compare")
    @engine_options("compare")
    def compare_command(sides: ..., engines: EngineOptions) -> None: ...
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer

Command = TypeVar("Command", bound=Callable[..., None])
Kind = Literal["run", "compare", "gate", "capacity"]
Opt = typer.Option
_CMD = "'CMD ... {port} ... {db} ... {config}'"

_ONE_COMMAND = Annotated[
    str | None, Opt("--engine-cmd", help=f"Start this engine for every trial: {_CMD}.")
]
_COMMANDS = Annotated[
    list[str] | None,
    Opt("--engine-cmd", help=f"Start this engine per trial: {_CMD}; once, or once per side."),
]
_GROUPS: dict[str, dict[str, tuple[Any, Any]]] = {
    "engine": {
        "engine_timeout": (
            Annotated[str | None, Opt(help="Time for an engine's ready line (default 60s).")],
            None,
        ),
    },
    "profile": {
        "native": (Annotated[bool, Opt("--native", help="CPU profiles: C frames too.")], False),
    },
    "revisions": {
        "baseline_ref": (
            Annotated[str | None, Opt(help="Baseline: the engine at this git revision.")],
            None,
        ),
        "candidate_ref": (
            Annotated[str | None, Opt(help="Candidate revision (default: the working tree).")],
            None,
        ),
        "cache_dir": (
            Annotated[Path | None, Opt(help="Revisions' worktrees and venvs, by commit.")],
            None,
        ),
    },
    "gate": {
        "config": (
            Annotated[str, Opt(help="Both sides' config, with engines or revisions.")],
            "default",
        ),
        "baseline_cmd": (Annotated[str | None, Opt(help="The baseline's engine command.")], None),
        "candidate_cmd": (Annotated[str | None, Opt(help="The candidate's engine command.")], None),
    },
}
_KINDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "run": (_ONE_COMMAND, ("engine", "profile")),
    "compare": (_COMMANDS, ("engine", "profile", "revisions")),
    "gate": (_ONE_COMMAND, ("engine", "revisions", "gate")),
    "capacity": (_COMMANDS, ("engine", "revisions")),
}


def engine_options(kind: Kind) -> Callable[[Command], Command]:
    """Add `kind`'s engine options to a command, which gets them as `engines`: EngineOptions
    for run and compare, GateEngines for gate."""
    command_annotation, groups = _KINDS[kind]
    added = {"engine_cmd": (command_annotation, None)}
    for group in groups:
        added.update(_GROUPS[group])

    def decorate(command: Command) -> Command:
        own = [
            parameter.replace(annotation=_evaluated(parameter.annotation, command))
            for parameter in inspect.signature(command).parameters.values()
            if parameter.name != "engines"
        ]
        extra = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=a)
            for name, (a, default) in added.items()
        ]

        @functools.wraps(command)
        def with_engines(*args: Any, **kwargs: Any) -> None:
            given = {name: kwargs.pop(name) for name in added}
            command(*args, engines=_engines(kind, given), **kwargs)

        parameters = own + extra
        with_engines.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        with_engines.__annotations__ = {p.name: p.annotation for p in parameters}
        return with_engines  # type: ignore[return-value]

    return decorate


def _evaluated(annotation: Any, command: Callable[..., Any]) -> Any:
    """An annotation as Typer must see it (the cli modules' are strings: `from __future__`)."""
    if not isinstance(annotation, str):
        return annotation
    return eval(annotation, command.__globals__)  # what inspect.signature(eval_str=True) does


def _engines(kind: Kind, given: dict[str, Any]) -> Any:
    from veltrix_bench.commands.engines import EngineOptions, GateEngines

    commands = given["engine_cmd"]
    common = EngineOptions(
        commands=[commands] if isinstance(commands, str) else list(commands or []),
        baseline_ref=given.get("baseline_ref"),
        candidate_ref=given.get("candidate_ref"),
        cache_dir=given.get("cache_dir"),
        timeout=given["engine_timeout"],
        native=given.get("native", False),
    )
    if kind != "gate":
        return common
    return GateEngines(given["config"], given["baseline_cmd"], given["candidate_cmd"], common)
