"""What the benchmark scripts share around a measurement: engines, vbench runs, CPU, results."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO, TypeVar

import psutil

from veltrix_bench.engine.config import EngineConfig
from veltrix_bench.engine.process import EngineProcess, start_engine

HOST = "127.0.0.1"
BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"
README = BENCHMARKS / "README.md"

T = TypeVar("T")


# -- the embedded engine ----------------------------------------------------------------------
@contextlib.contextmanager
def engine_running(
    config: EngineConfig,
    folder: Path,
    *,
    env: dict[str, str] | None = None,
    wrapper: list[str] | None = None,
    stop_timeout: float = 15.0,
) -> Iterator[EngineProcess]:
    """A fresh engine on `folder`/veltrix.db with `config`, stopped on the way out.

    `folder` keeps engine.toml, veltrix.db and engine.log; stop the engine yourself inside
    the block to see its exit code (a stopped engine is not stopped again).
    """
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "engine.toml"
    config_file.write_text(config.to_toml())
    engine = start_engine(
        config_file, folder / "veltrix.db", folder / "engine.log", host=HOST, env=env,
        wrapper=wrapper,
    )  # fmt: skip
    try:
        yield engine
    finally:
        if engine.alive():
            engine.stop(timeout=stop_timeout)


ENGINE_LOG_TIME = "%Y-%m-%d %H:%M:%S,%f"  # the stamp engine/server.py puts on every log line
STALL_MARKER = "fault: stalled the process for "


def engine_log_epoch(line: str) -> float:
    """When the engine wrote this log line, as epoch seconds."""
    return datetime.datetime.strptime(line[:23], ENGINE_LOG_TIME).timestamp()


def logged_stalls(log: Path) -> list[tuple[float, float]]:
    """(epoch when it ended, length in ms) of every stall the engine's stall fault logged."""
    return [
        (engine_log_epoch(line), float(line.split(STALL_MARKER)[1].split(" ms")[0]))
        for line in log.read_text().splitlines()
        if STALL_MARKER in line
    ]


# -- vbench itself ----------------------------------------------------------------------------
def run_vbench(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """`python -m veltrix_bench ARGS` in a child process, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "veltrix_bench", *args], capture_output=True, text=True,
        check=check,
    )  # fmt: skip


def printed_path(done: subprocess.CompletedProcess[str]) -> Path:
    """The path vbench prints on its last line (a run, compare or gate directory or file)."""
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"vbench printed nothing ({done.returncode}):\n{done.stderr[-2000:]}")
    return Path(lines[-1])


# -- CPU: what each process used, and whether the machine was quiet ---------------------------
# Other engineers load this machine too: a measurement during which other processes used more
# than this share of a core (averaged over its window) is run again, and the least disturbed
# attempt is kept.
OTHERS_LIMIT_PCT = 50.0


def process_cpu_seconds(process: psutil.Process | None, *, children: bool = False) -> float | None:
    """User + system CPU seconds of a process (with its waited-for children), None if gone."""
    if process is None:
        return None
    try:
        times = process.cpu_times()
    except psutil.Error:
        return None
    used = times.user + times.system
    return used + times.children_user + times.children_system if children else used


def tree_cpu_seconds(root: psutil.Process) -> float:
    """CPU seconds of a process and every descendant still running."""
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        total += process_cpu_seconds(process) or 0.0
    return total


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy (all processes)."""
    times = psutil.cpu_times()
    return (
        times.user
        + times.system
        + times.nice
        + getattr(times, "irq", 0)
        + getattr(times, "softirq", 0)
    )


def least_disturbed(
    measure: Callable[[], T],
    others_cpu_pct: Callable[[T], float],
    retries: int,
    on_disturbed: Callable[[T], None] | None = None,
) -> tuple[T, list[float]]:
    """`measure()`, again (up to `retries` times) while others took > OTHERS_LIMIT_PCT.

    Returns the attempt other processes disturbed least, and every attempt's share.
    """
    attempts: list[T] = []
    for attempt in range(retries + 1):
        result = measure()
        attempts.append(result)
        if others_cpu_pct(result) <= OTHERS_LIMIT_PCT:
            break
        if attempt < retries:
            if on_disturbed is not None:
                on_disturbed(result)
            time.sleep(3)
    return min(attempts, key=others_cpu_pct), [others_cpu_pct(a) for a in attempts]


def pinned_cores() -> tuple[set[int], set[int]] | None:
    """(target's cores, generator's cores), or None where there are too few to split."""
    cores = sorted(os.sched_getaffinity(0))
    return ({cores[0]}, {cores[1]}) if len(cores) >= 2 else None


# -- the command line -------------------------------------------------------------------------
def script_parser(script: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of `python -m benchmarks.<script>` (pass __file__ and __doc__)."""
    return argparse.ArgumentParser(
        prog=f"python -m benchmarks.{Path(script).stem}",
        description=(doc or "").splitlines()[0] if doc else None,
    )


def add_json_options(parser: argparse.ArgumentParser, name: str) -> None:
    """--out and --render, for a script that keeps its raw figures as results/<name>.json."""
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"the JSON to write (default results/{name}.json, or results/{name}-quick.json "
        "with --quick, which also writes its tables there)",
    )
    parser.add_argument(
        "--render", type=Path, default=None, help="write the tables of an earlier JSON and stop"
    )


def json_path(args: argparse.Namespace, name: str) -> Path:
    """Where the raw figures go: --out, else results/<name>.json (<name>-quick with --quick)."""
    out: Path | None = args.out
    return out or RESULTS / (f"{name}-quick.json" if args.quick else f"{name}.json")


# -- results: results/<name>.md and its block in benchmarks/README.md --------------------------
def _block(name: str) -> re.Pattern[str]:
    marker = re.escape(name)
    return re.compile(rf"(<!-- {marker}:table -->\n)(.*?)(<!-- /{marker}:table -->)", re.DOTALL)


BLOCK_NAMES = re.compile(r"<!-- ([\w.-]+):table -->")


def publish(name: str, text: str, table: str | None = None, *, folder: Path = RESULTS) -> Path:
    """Write `folder`/<name>.md, and the same `table` (default: `text`) into README.md's block.

    The block `<!-- name:table -->` ... `<!-- /name:table -->` in benchmarks/README.md is
    replaced when it exists, so the method notes quote exactly what the script wrote.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(text.strip("\n") + "\n")
    if not replace_block(README, name, text if table is None else table):
        print(f"({README.name} has no `{name}:table` block: wrote {path} only)", file=sys.stderr)
    return path


def replace_block(document: Path, name: str, content: str) -> bool:
    """Replace the body of the block `name` in `document`; False when it has none."""
    text = document.read_text() if document.exists() else ""
    block = _block(name)
    if block.search(text) is None:
        return False
    body = content.strip("\n") + "\n"
    document.write_text(block.sub(lambda m: m.group(1) + body + m.group(3), text, count=1))
    return True


def drifted_blocks(document: Path = README, folder: Path = RESULTS) -> list[str]:
    """Blocks whose text is not in their results file, paragraph by paragraph.

    A block without a results file yet (the script has not run since it got one) is fine.
    """
    text = document.read_text() if document.exists() else ""
    drifted = []
    for name in BLOCK_NAMES.findall(text):
        found = _block(name).search(text)
        source = folder / f"{name}.md"
        if found is None:
            drifted.append(f"{name}: no closing marker")
        elif source.exists():
            written = source.read_text()
            missing = [p for p in found.group(2).split("\n\n") if p.strip() not in written]
            if missing:
                drifted.append(f"{name}: not in {source.name}: {missing[0].strip()[:80]!r}")
    return drifted


class _Echoing(io.StringIO):
    """Keeps what is written to it and passes it on."""

    def __init__(self, echo: TextIO) -> None:
        super().__init__()
        self.echo = echo

    def write(self, text: str) -> int:
        self.echo.write(text)
        return super().write(text)

    def flush(self) -> None:
        self.echo.flush()
        super().flush()


@contextlib.contextmanager
def transcript() -> Iterator[io.StringIO]:
    """Everything printed to stdout inside the block, kept (and still printed)."""
    kept = _Echoing(sys.stdout)
    with contextlib.redirect_stdout(kept):
        yield kept
