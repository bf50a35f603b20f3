"""`vbench capacity` end to end with tiny settings: real engines, real generators, the files it
writes, the configs interleaved with the first rotating, and a running --target."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EngineFactory
from tests.test_engine_cmd import ENGINE
from veltrix_bench.models.capacity import CapacityResult
from veltrix_bench.rundir import read_capacity, read_summary

pytestmark = pytest.mark.slow
# A small world, and a late tolerance a busy test machine's scheduling pauses stay within:
# these tests are about the command, not about whether this machine's generator keeps up.
TINY_SCENARIO = """name = "tiny"
[load]
rate = 50
duration = "2s"
max_in_flight = 100
late_tolerance = "250ms"
[world]
hunts = 2
players = 300
"""


@pytest.fixture
def tiny(tmp_path: Path) -> list[str]:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY_SCENARIO)
    return ["--scenario", str(scenario), "--step", "2s", "--warmup", "1s", "--start", "50"]


def capacity(*args: str) -> tuple[subprocess.CompletedProcess[str], CapacityResult]:
    done = subprocess.run(
        [sys.executable, "-m", "veltrix_bench", "capacity", *args], capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert folder.name.startswith("capacity-")
    assert {"capacity.json", "capacity.md", "capacity.html"} <= {p.name for p in folder.iterdir()}
    return done, read_capacity(folder)


def test_two_configs_search_interleaved_and_a_pass_at_max_rate_is_a_lower_bound(
    tmp_path: Path, tiny: list[str]
) -> None:
    done, result = capacity(
        "default", "tuned", "--slo", "p99 < 2s", "--slo", "error_rate < 5%", *tiny,
        "--max-rate", "50", "--trials", "2", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.complete and [c.name for c in result.configs] == ["default", "tuned"]
    for config in result.configs:
        assert config.capacity == 50 and config.lower_bound and config.limit == "max_rate"
        [step] = config.steps
        assert step.rate == 50 and step.verdict == "pass" and len(step.trials) == 2
        for trial in step.trials:
            summary = read_summary(Path(trial.run_dir))
            assert summary.load.target_rate == 50 and summary.load.duration_s < 3
            assert summary.engine.cpu_us_per_event is not None  # the engine's CPU, measured
            assert not (Path(trial.run_dir) / "engine.db").exists()  # judged: dropped
    # round 1: default then tuned; round 2: tuned then default
    orders = [[t.order for t in c.steps[0].trials] for c in result.configs]
    assert orders == [[0, 1], [1, 0]]
    assert result.headline.startswith(("default sustains at least 50/s", "tuned sustains at least"))
    assert "p99 < 2s and error_rate < 5%" in result.headline
    assert "step 1 · default 50/s · tuned 50/s" in done.stdout
    assert "PASS (2 of 2 trials)" in done.stdout


def test_a_running_target_is_searched_without_restarts_and_says_so(
    engine_factory: EngineFactory, tmp_path: Path, tiny: list[str]
) -> None:
    engine = engine_factory("tuned", world={"hunts": 2, "players": 300})
    _, result = capacity(
        "--target", engine.url, "--slo", "p99 < 2s", *tiny, "--max-rate", "50", "--trials",
        "1", "--processes", "2", "--out", str(tmp_path),
    )  # fmt: skip
    [config] = result.configs
    assert config.config == "external" and config.capacity == 50
    assert not result.settings.fresh_engine_per_step and result.settings.processes == 2
    assert any("one engine for every step, never restarted" in note for note in result.notes)
    summary = read_summary(Path(config.steps[0].trials[0].run_dir))
    assert summary.load.processes == 2 and summary.requests.total == 100


def test_an_engine_command_is_started_afresh_for_every_trial(
    tmp_path: Path, tiny: list[str]
) -> None:
    _, result = capacity(
        "tuned", "--engine-cmd", ENGINE, "--slo", "p99 < 2s", *tiny, "--max-rate", "50",
        "--trials", "1", "--out", str(tmp_path),
    )  # fmt: skip
    [config] = result.configs
    assert config.name == "tuned on engine.py" and config.engine == ENGINE
    assert config.capacity == 50 and result.settings.fresh_engine_per_step


def test_a_search_stopped_by_a_failed_run_still_writes_what_it_measured(
    tmp_path: Path, tiny: list[str]
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    done = subprocess.run(
        [sys.executable, "-m", "veltrix_bench", "capacity", "--target",
         f"http://127.0.0.1:{port}", "--slo", "p99 < 2s", *tiny, "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 3
    [line] = done.stderr.strip().splitlines()
    assert "unreachable" in line and "capacity so far in" in line
    folder = Path(line.rsplit("capacity so far in ", 1)[1].rstrip(")"))
    result = read_capacity(folder)
    assert not result.complete and result.configs[0].limit is None
    assert "stopped before" in result.configs[0].limit_cause
    assert (folder / "capacity.html").exists()
