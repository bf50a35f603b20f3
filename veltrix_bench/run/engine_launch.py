"""How the engine of a trial is started: the embedded reference engine, a user's command
(`--engine-cmd`), or a revision of the engine's code, each afresh for every trial.

Every engine is a command line with three placeholders, filled in per trial: `{port}`, a port
free on 127.0.0.1 that vbench picked (the reference engine, a revision's too, gets 0 and binds
one itself, so no other process can take it in between; the port in the engine's ready line
is the one used); `{db}`, a fresh database path in the run directory; `{config}`, the side's
config file (written there from `--config`, with the scenario's world). No shell runs it.

The embedded engine gets its config in full, validated here. Any other engine gets only what
the config file says plus the scenario's world, so that it applies its own defaults: an older
revision of the engine does not know the keys added since, and refuses unknown keys. A preset
name given to a revision means that revision's own preset.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veltrix_bench.engine.config import PRESET_DIR, config_source, load_config
from veltrix_bench.engine.process import EngineProcess, free_port, start_command
from veltrix_bench.errors import UsageError
from veltrix_bench.profile import ProfileSession
from veltrix_bench.rundir import RunDir
from veltrix_bench.tomlfile import read_toml

PLACEHOLDERS = ("port", "db", "config")
HOST = "127.0.0.1"
_PYTHON = re.compile(r"python[0-9.]*")
_INTERPRETER = re.compile(r"python[0-9.]*|pypy[0-9.]*|env|node|ruby|perl|sh|bash|java")
_LAUNCHER_CHECK = "import memray, veltrix_bench.profile.memray_launch"


@dataclass(frozen=True)
class EngineCommand:
    """A program serving the engine API, as a command line with placeholders."""

    argv: tuple[str, ...]
    cwd: Path | None = None
    """Where it runs (None: vbench's own working directory, so relative paths work)."""
    description: str = ""
    """What it is, for reports: the command as typed, or a revision and its commit."""
    commit: str | None = None
    presets: Path | None = None
    """Where a revision keeps its presets (None: this installation's)."""
    label: str = ""
    """A short name for side names: the program (`engine.py`), or the revision."""
    picks_port: bool = False
    """It binds a free port itself when given port 0 (the reference engine does)."""

    @classmethod
    def parse(cls, text: str, option: str = "--engine-cmd") -> EngineCommand:
        """Split like a POSIX shell (no shell runs it); UsageError for an empty command, an
        unbalanced quote or brace, or a placeholder other than {port}, {db} and {config}."""
        try:
            argv = tuple(shlex.split(text))
        except ValueError as exc:
            raise UsageError(f"{option} {text!r}: {exc}") from None
        if not argv:
            raise UsageError(f"{option}: an empty command")
        for word in argv:
            _check_placeholders(word, option)
        return cls(argv, description=text, label=_program_name(argv))

    @classmethod
    def reference(cls) -> EngineCommand:
        """The embedded reference engine, on this interpreter."""
        argv = _reference_argv(sys.executable)
        return cls(argv, description="the embedded reference engine", picks_port=True)

    @classmethod
    def revision(
        cls, python: Path, tree: Path, label: str, description: str, commit: str
    ) -> EngineCommand:
        """The reference engine of a revision: its own interpreter, run in its source tree
        (`python -m` puts the working directory first on the path: that tree's code runs)."""
        presets = tree / "veltrix_bench" / "engine" / "presets"
        return cls(_reference_argv(str(python)), tree, description, commit, presets, label, True)

    def argv_for(self, port: int, db: Path, config: Path) -> list[str]:
        values = {"port": str(port), "db": str(db), "config": str(config)}
        return [word.format(**values) for word in self.argv]

    @property
    def python(self) -> str | None:
        """The interpreter when the command runs a Python program directly, else None."""
        return self.argv[0] if _PYTHON.fullmatch(Path(self.argv[0]).name) else None


@dataclass(frozen=True)
class EngineSpec:
    """The engine of one side of a comparison: its config and the program serving it."""

    config: str = "default"
    command: EngineCommand | None = None
    """None: the embedded reference engine of this installation."""
    name: str = ""
    """How reports call the side ("": from the config's name)."""

    @property
    def config_name(self) -> str:
        return Path(self.config).stem if self.config.endswith(".toml") else self.config

    @property
    def label(self) -> str:
        return self.name or self.config_name

    @property
    def description(self) -> str:
        """What the side is, in full (commits whole): for gate.json's source."""
        if self.command is None:
            return self.config_name
        return f"{self.config_name} on {self.command.description}"


def _program_name(argv: tuple[str, ...]) -> str:
    """The program a command runs: `engine.py` of `python tests/engine.py --port {port}`,
    the module of `python -m veltrix_engine`, else its first word's name."""
    words = list(argv)
    while len(words) > 1 and (_INTERPRETER.fullmatch(Path(words[0]).name) or words[0] == "-m"):
        words.pop(0)
    return Path(words[0]).name


def _reference_argv(python: str) -> tuple[str, ...]:
    return (
        python, "-m", "veltrix_bench.engine", "--config", "{config}",
        "--host", HOST, "--port", "{port}", "--db", "{db}",
    )  # fmt: skip


def write_side_config(
    config: str, world: dict[str, Any], command: EngineCommand | None, run_dir: RunDir
) -> tuple[Path, str]:
    """The side's config file for `{config}` (engine-config.toml, beside a copy of its source
    as engine-preset.toml), and the config's name."""
    config_file = run_dir.file("engine-config.toml")
    if command is None:
        full = load_config(config).with_overrides(world=world)
        config_file.write_text(full.to_toml())
        shutil.copy(config_source(config), run_dir.file("engine-preset.toml"))
        return config_file, full.name
    source = config_source(config)
    own = command.presets / source.name if command.presets is not None else None
    if own is not None and source.parent == PRESET_DIR and own.exists():
        source = own  # a preset name: the revision's own preset
    data = read_toml(source)
    data.setdefault("name", source.stem)
    data["world"] = {**data.get("world", {}), **world}
    config_file.write_text(_toml(data))
    shutil.copy(source, run_dir.file("engine-preset.toml"))
    return config_file, str(data["name"])


def _toml(data: dict[str, Any]) -> str:
    """A config's tables as TOML (keys at the top, then one table per section; JSON's
    spelling of strings, numbers and booleans is TOML's)."""
    lines = [
        f"{key} = {json.dumps(value)}" for key, value in data.items() if not isinstance(value, dict)
    ]
    for section, values in data.items():
        if isinstance(values, dict):
            lines.append(f"\n[{section}]")
            lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
    return "\n".join(lines) + "\n"


def _check_placeholders(word: str, option: str) -> None:
    """UsageError for a placeholder other than {port}, {db}, {config}, or a stray brace."""
    try:
        fields = [parsed[1:] for parsed in string.Formatter().parse(word)]
    except ValueError as exc:
        raise UsageError(f"{option}: {word!r}: {exc} (write a literal brace twice)") from None
    for name, spec, conversion in fields:
        if name is not None and (name not in PLACEHOLDERS or spec or conversion):
            shown = "{" + name + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
            raise UsageError(f"{option}: unknown placeholder {shown}; known: {known}")


def launch_engine(
    command: EngineCommand | None,
    run_dir: RunDir,
    config_file: Path,
    session: ProfileSession | None,
    ready_timeout: float,
) -> EngineProcess:
    """Start the trial's engine and return once it is ready (EngineDidNotStart, exit 3, if not).

    Profiling follows what the engine is: memray wraps the command's Python when the command
    runs one directly (and that Python can run vbench's launcher); py-spy samples the engine's
    process when it is a Python process. Otherwise that profile is skipped, with why.
    """
    embedded = command is None
    command = command or EngineCommand.reference()
    port = 0 if command.picks_port else free_port(HOST)
    argv = command.argv_for(port, run_dir.file("engine.db"), config_file)
    if session is not None and session.active("memory"):
        argv = _under_memray(argv, command, embedded, session)
    started = {"argv": argv, "cwd": str(command.cwd or Path.cwd()), "commit": command.commit}
    started["description"] = command.description
    run_dir.file("engine.json").write_text(json.dumps(started, indent=2))
    engine = start_command(argv, run_dir.engine_log, ready_timeout=ready_timeout, cwd=command.cwd)
    if session is not None and session.active("cpu") and not embedded:
        problem = engine.not_python()
        if problem is not None:
            session.skip("cpu", f"{problem}: py-spy samples Python programs only")
    return engine


def _under_memray(
    argv: list[str], command: EngineCommand, embedded: bool, session: ProfileSession
) -> list[str]:
    """`argv` run by vbench's memray launcher in the command's own Python, or `argv` as it
    was with the memory profile skipped and why."""
    python = command.python
    if python is None:
        session.skip(
            "memory",
            f"memray wraps a Python engine started by vbench; {argv[0]!r} is not a Python "
            "interpreter (CPU profiling still works when the engine is a Python process)",
        )
        return argv
    program = argv[1:]
    if not program or (program[0].startswith("-") and program[0] != "-m"):
        session.skip(
            "memory", "memray wraps `python -m MODULE ...` or `python SCRIPT ...` only: "
            f"this command passes {program[0] if program else 'nothing'} to Python first",
        )  # fmt: skip
        return argv
    if not embedded:
        problem = _launcher_problem(python, command.cwd)
        if problem is not None:
            session.skip("memory", f"{python} cannot run vbench's memray launcher: {problem}")
            return argv
    wrapper = session.engine_wrapper(python)
    return argv if wrapper is None else [*wrapper, *program]


def _launcher_problem(python: str, cwd: Path | None) -> str | None:
    """Why `python` (in `cwd`) cannot import memray and vbench's launcher, or None."""
    try:
        done = subprocess.run(
            [python, "-c", _LAUNCHER_CHECK], cwd=cwd, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit code {done.returncode}"
