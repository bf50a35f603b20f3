"""`--engine-cmd`: any engine started per trial from a command line, through `run` and `compare`
with the independent engine in real processes, and every way such a command can go wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from rich.console import Console

from veltrix_bench.commands.engines import (
    EngineOptions,
    GateEngines,
    compare_engines,
    gate_engines,
)
from veltrix_bench.engine.process import EngineDidNotStart, start_command
from veltrix_bench.errors import UsageError
from veltrix_bench.profile.errors import ProfilerUnavailable
from veltrix_bench.profile.folded import read_folded
from veltrix_bench.profile.pyspy import PySpyRecorder
from veltrix_bench.run.engine_launch import EngineCommand, write_side_config
from veltrix_bench.rundir import RunDir

INDEPENDENT_ENGINE = Path(__file__).parent / "independent_engine" / "engine.py"
ENGINE = f"{sys.executable} {INDEPENDENT_ENGINE} --port {{port}} --db {{db}} --config {{config}}"
SHORT = ["--scenario", "smoke", "--rate", "50", "--duration", "2s"]


def vbench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, writing under tmp_path/out."""
    return subprocess.run(
        [sys.executable, "-m", "veltrix_bench", *args, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "100"},
    )


def run_dir_of(done: subprocess.CompletedProcess[str]) -> Path:
    return Path(done.stdout.strip().splitlines()[-1])


# -- the command line, its placeholders -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("engine --port {prot}", "unknown placeholder {prot}; known: {port}, {db}, {config}"),
        ("engine --port {port:05}", "unknown placeholder {port:05}"),
        ("engine --db {db!r}", "unknown placeholder {db!r}"),
        ("engine {}", "unknown placeholder {}"),
        ("engine --port {port", "write a literal brace twice"),
        ("engine --name 'unclosed", "No closing quotation"),
        ("   ", "an empty command"),
    ],
)
def test_a_command_that_cannot_be_filled_in_is_a_usage_error(text: str, message: str) -> None:
    with pytest.raises(UsageError, match="--engine-cmd") as refused:
        EngineCommand.parse(text)
    assert message in refused.value.message


def test_placeholders_are_filled_in_per_word_without_a_shell(tmp_path: Path) -> None:
    command = EngineCommand.parse("srv --listen=127.0.0.1:{port} 'a b' {{x}} $HOME --db={db}")
    argv = command.argv_for(8123, tmp_path / "e.db", tmp_path / "c.toml")
    assert argv == [
        "srv",
        "--listen=127.0.0.1:8123",
        "a b",
        "{x}",
        "$HOME",
        f"--db={tmp_path}/e.db",
    ]
    assert command.label == "srv"
    assert EngineCommand.parse(ENGINE).label == "engine.py"
    assert EngineCommand.parse("python3 -m my_engine --port {port}").label == "my_engine"


def test_an_unknown_placeholder_exits_2_before_anything_starts(tmp_path: Path) -> None:
    done = vbench(tmp_path, "run", "--engine-cmd", "engine --port {prot}")
    assert done.returncode == 2, done.stderr
    assert "unknown placeholder {prot}" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("configs", "commands", "names"),
    [
        (["tuned"], [ENGINE, ENGINE], ["tuned on engine.py", "tuned on engine.py"]),
        (["default", "tuned"], [ENGINE], ["default on engine.py", "tuned on engine.py"]),
        (["default", "tuned"], [], ["default", "tuned"]),
        (["a", "b", "c"], ["x {port}", "y {port}", "z {port}"], ["a on x", "b on y", "c on z"]),
    ],
)
def test_one_config_or_command_serves_every_side_else_one_per_side(
    configs: list[str], commands: list[str], names: list[str]
) -> None:
    sides = compare_engines(configs, EngineOptions(commands=commands), Console())
    assert [side.label for side in sides] == names


@pytest.mark.parametrize(
    ("configs", "commands", "message"),
    [
        (["a", "b", "c"], ["x", "y"], "2 --engine-cmd for 3 sides"),
        (["a", "b"], ["x", "y", "z"], "2 configs for 3 sides"),
        (["tuned"], [], "at least two sides"),
    ],
)
def test_sides_that_do_not_pair_up_are_a_usage_error(
    configs: list[str], commands: list[str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        compare_engines(configs, EngineOptions(commands=commands), Console())


@pytest.mark.parametrize(
    ("engines", "configs", "expected"),
    [
        (GateEngines(config="tuned"), (None, None), [("tuned", None), ("tuned", None)]),
        (
            GateEngines(common=EngineOptions(commands=["old {port}"])),
            ("default", "tuned"),
            [("default", "old"), ("tuned", "old")],
        ),
        (
            GateEngines("tuned", "old {port}", "new {port}", EngineOptions(commands=["x"])),
            (None, None),
            [("tuned", "old"), ("tuned", "new")],
        ),
        (
            GateEngines(candidate_cmd="new {port}", common=EngineOptions(commands=["old"])),
            (None, None),
            [("default", "old"), ("default", "new")],
        ),
    ],
)
def test_a_gates_sides_take_their_own_command_else_the_shared_one(
    engines: GateEngines,
    configs: tuple[str | None, str | None],
    expected: list[tuple[str, str | None]],
) -> None:
    sides = gate_engines(engines, *configs, Console())
    found = [(side.config, side.command.label if side.command else None) for side in sides]
    assert found == expected


@pytest.mark.parametrize(
    ("engines", "message"),
    [
        (GateEngines(common=EngineOptions(commands=["a", "b"])), "give it once"),
        (
            GateEngines(baseline_cmd="a", common=EngineOptions(baseline_ref="main")),
            "engine commands or revisions, not both",
        ),
        (GateEngines(common=EngineOptions(candidate_ref="main")), "needs --baseline-ref"),
        (GateEngines(baseline_cmd="a {nope}"), "--baseline-cmd: unknown placeholder {nope}"),
    ],
)
def test_gate_engine_options_that_conflict_are_a_usage_error(
    engines: GateEngines, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        gate_engines(engines, None, None, Console())


def test_revisions_and_commands_do_not_mix_in_compare() -> None:
    both = EngineOptions(commands=["a"], baseline_ref="main")
    with pytest.raises(UsageError, match="not both"):
        compare_engines(["tuned"], both, Console())
    with pytest.raises(UsageError, match="two sides: give one or two configs"):
        compare_engines(["a", "b", "c"], EngineOptions(baseline_ref="main"), Console())


def test_an_engine_other_than_ours_gets_only_what_its_config_says(tmp_path: Path) -> None:
    """Not our defaults in full (an older engine refuses keys it does not know), and a preset
    name given to a revision is that revision's own preset."""
    world = {"hunts": 2, "players": 300}
    presets = tmp_path / "revision" / "veltrix_bench" / "engine" / "presets"
    presets.mkdir(parents=True)
    (presets / "tuned.toml").write_text("[queue]\ncapacity = 17\n")
    revision = EngineCommand.revision(
        Path(sys.executable), tmp_path / "revision", "old", "old", "c0"
    )
    written = {}
    for command in (EngineCommand.parse(ENGINE), revision):
        run_dir = RunDir(tmp_path / f"run-{len(written)}")
        run_dir.path.mkdir()
        config_file, name = write_side_config("tuned", world, command, run_dir)
        assert name == "tuned"
        written[command.label] = config_file.read_text()
    ours, old = written["engine.py"], written["old"]
    assert "capacity = 4096" in ours and 'checkpoint = "background"' in ours
    assert "capacity = 17" in old and "checkpoint" not in old
    for text in (ours, old):
        assert "players = 300" in text and "hunts = 2" in text
        assert "drain_timeout_s" not in text  # a default: not written, the engine has its own


# -- starting a command ---------------------------------------------------------------------


def test_the_ready_line_gives_the_port_and_the_pid(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[world]\nplayers = 10\n")
    command = [sys.executable, str(INDEPENDENT_ENGINE), "--port", "0", "--db",
               str(tmp_path / "e.db"), "--config", str(config)]  # fmt: skip
    engine = start_command(command, tmp_path / "engine.log")
    try:
        assert engine.pid == engine.process.pid and engine.port > 0
        assert engine.not_python() is None
    finally:
        assert engine.stop() == 0  # SIGTERM: the engine drains and exits 0
    assert "VELTRIX READY" in (tmp_path / "engine.log").read_text()


def test_a_process_that_is_not_python_says_so(tmp_path: Path) -> None:
    script = "echo VELTRIX READY port=1 pid=$$; exec sleep 30"
    engine = start_command(["sh", "-c", script], tmp_path / "engine.log")
    try:
        assert "is not a Python process" in (engine.not_python() or "")
    finally:
        engine.stop(timeout=5)


def test_a_command_that_exits_first_shows_its_last_lines(tmp_path: Path) -> None:
    script = "import sys; print('reading config', flush=True); sys.exit('bad key: queue.size')"
    with pytest.raises(EngineDidNotStart) as failed:
        start_command([sys.executable, "-c", script], tmp_path / "engine.log")
    assert "exited with code 1 before it was ready" in failed.value.message
    assert (
        "reading config" in failed.value.message and "bad key: queue.size" in failed.value.message
    )
    assert failed.value.exit_code == 3


def test_a_silent_command_is_killed_at_its_timeout_with_its_children(tmp_path: Path) -> None:
    nap = f"60.{os.getpid()}"  # a duration no other process sleeps
    script = f"sleep {nap} & echo starting; sleep {nap}"
    with pytest.raises(EngineDidNotStart, match="within 1 s") as failed:
        start_command(["sh", "-c", script], tmp_path / "engine.log", ready_timeout=1.0)
    assert "starting" in failed.value.message
    # the shell and both sleeps, the one in the background too: its whole process group
    left = [p for p in psutil.process_iter(["cmdline"]) if nap in (p.info["cmdline"] or [])]
    _, alive = psutil.wait_procs(left, timeout=2)
    assert not alive


def test_a_program_that_does_not_exist_is_exit_3_not_a_traceback(tmp_path: Path) -> None:
    done = vbench(tmp_path, "run", *SHORT, "--engine-cmd", "/nonexistent/engine --port {port}")
    assert done.returncode == 3, done.stderr
    assert "cannot be started" in done.stderr and "Traceback" not in done.stderr


# -- through the real commands --------------------------------------------------------------


@pytest.mark.slow
def test_run_loads_the_independent_engine_started_per_trial(tmp_path: Path) -> None:
    done = vbench(tmp_path, "run", *SHORT, "--config", "tuned", "--engine-cmd", ENGINE)
    assert done.returncode == 0, done.stderr
    run_dir = run_dir_of(done)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["requests"]["ok"] > 50
    assert summary["invariants"] == {"acked_equals_persisted": True, "claims_exactly_once": True}
    started = json.loads((run_dir / "engine.json").read_text())
    assert started["argv"][:2] == [sys.executable, str(INDEPENDENT_ENGINE)]
    assert started["argv"][started["argv"].index("--db") + 1] == str(run_dir / "engine.db")
    assert "VELTRIX READY" in (run_dir / "engine.log").read_text()
    config = (run_dir / "engine-config.toml").read_text()
    assert "capacity = 4096" in config and "players = 300" in config  # tuned + smoke's world


def compare_commands(
    tmp_path: Path, trials: int, *commands: str
) -> subprocess.CompletedProcess[str]:
    """`vbench compare default --engine-cmd A --engine-cmd B ...`, short unprofiled trials."""
    each = [word for command in commands for word in ("--engine-cmd", command)]
    return vbench(
        tmp_path, "compare", "default", *SHORT, "--trials", str(trials), "--profiled-trials", "0",
        *each,
    )  # fmt: skip


@pytest.mark.slow
def test_compare_two_engine_commands_in_interleaved_rounds(tmp_path: Path) -> None:
    done = compare_commands(tmp_path, 2, ENGINE, f"{ENGINE} --drain-s 1")
    assert done.returncode == 0, done.stderr
    comparison = json.loads((run_dir_of(done) / "comparison.json").read_text())
    names = [side["name"] for side in comparison["sides"]]
    assert names == ["default on engine.py (A)", "default on engine.py (B)"]
    assert [side["trials"] for side in comparison["sides"]] == [2, 2]
    argvs = []
    for side in comparison["sides"]:
        for run_dir in side["run_dirs"]:
            argvs.append(json.loads((Path(run_dir) / "engine.json").read_text())["argv"])
    assert sum("--drain-s" in argv for argv in argvs) == 2


@pytest.mark.slow
def test_compare_stops_at_an_engine_that_does_not_start(tmp_path: Path) -> None:
    failing = f"{sys.executable} -c \"print('no such table'); raise SystemExit(5)\" {{port}}"
    done = compare_commands(tmp_path, 3, ENGINE, failing)
    assert done.returncode == 3, done.stderr
    assert "exited with code 5 before it was ready" in done.stderr
    assert "no such table" in done.stderr
    trials = list((tmp_path / "out").glob("compare-*/trials/*"))
    assert len(trials) == 2  # A ran, B failed to start: no further round


@pytest.mark.slow
def test_profiles_of_a_command_engine_say_which_ran(tmp_path: Path) -> None:
    """memray wraps the command's own Python; under `env` it is not a Python command (memory
    is skipped, saying why) while the engine it starts is a Python process (py-spy runs)."""
    direct = vbench(tmp_path, "run", *SHORT, "--profile", "memory", "--engine-cmd", ENGINE)
    assert direct.returncode == 0, direct.stderr
    summary = json.loads((run_dir_of(direct) / "summary.json").read_text())
    assert summary["memory"]["allocations"] > 0 and "memory" not in summary["profiles_skipped"]

    under_env = vbench(tmp_path, "run", *SHORT, "--profile", "all", "--engine-cmd", f"env {ENGINE}")
    assert under_env.returncode == 0, under_env.stderr
    summary = json.loads((run_dir_of(under_env) / "summary.json").read_text())
    assert "'env' is not a Python interpreter" in summary["profiles_skipped"]["memory"]
    assert summary["memory"] is None
    assert summary["cpu"]["samples"] > 0 and "cpu" not in summary["profiles_skipped"]
    assert any("memory profile skipped" in warning for warning in summary["warnings"])


def test_native_frames_are_sampled_when_asked(tmp_path: Path) -> None:
    """`--native`: py-spy also records the C frames (here libc's and libpython's)."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.001)"])
    recorder = PySpyRecorder(tmp_path / "cpu.folded", tmp_path / "py-spy.log", native=True)
    try:
        recorder.start(sleeper.pid)
        time.sleep(1.0)
        recorder.stop()
    except ProfilerUnavailable as exc:
        pytest.skip(exc.reason)
    finally:
        recorder.abandon()
        sleeper.kill()
        sleeper.wait()
    files = {frame.file for stack in read_folded(tmp_path / "cpu.folded") for frame in stack.frames}
    assert any(".so" in name for name in files), files


def test_a_sample_without_python_frames_is_left_out(tmp_path: Path) -> None:
    """py-spy writes ` 2` for a thread caught with no Python frame (a threaded engine's worker
    starting or ending); that is no damage to the file."""
    folded = tmp_path / "cpu.folded"
    folded.write_text("main (a.py:1);serve (a.py:9) 5\n 2\nmain (a.py:1) 1\n")
    assert [stack.count for stack in read_folded(folded)] == [5, 1]
