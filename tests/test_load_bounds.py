"""Every count, rate, duration and world size is finite and bounded, with the reason, before
anything starts: in a scenario file and in the command line's overrides alike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from veltrix_bench.errors import EXIT_USAGE, ConfigError
from veltrix_bench.load.bounds import MAX_RUN_S, MAX_USERS_PER_PROCESS, users_per_process_limit
from veltrix_bench.load.scenario import Scenario, load_scenario

RUN_LENGTH = "histograms record up to 1 h"
FINITE = "finite"

# (TOML that goes under `name = "b"`, the key named, words of the reason)
FILE_CASES = [
    ("[load]\nrate = inf", "load.rate", FINITE),
    ("[load]\nrate = nan", "load.rate", FINITE),
    ("[load]\nrate = 1e300", "load.rate", "resolution of the latency histograms"),
    ("[load]\nrate = 0", "load.rate", "greater than 0"),
    ("[load]\nrate = 10\nduration = 'inf'", "load.duration", FINITE),
    ("[load]\nrate = 10\nduration = inf", "load.duration", FINITE),
    ("[load]\nrate = 10\nduration = 'nan'", "load.duration", FINITE),
    ("[load]\nrate = 10\nduration = '2h'", "load.duration", RUN_LENGTH),
    ("[load]\nrate = 10\nduration = 1e300", "load.duration", RUN_LENGTH),
    ("[load]\nrate = 10\nduration = '59m'\ndrain = '2m'", "load", RUN_LENGTH),
    ("[load]\nstages = [{duration = '40m', rate = 5}, {duration = '40m', rate = 5}]", "load",
     RUN_LENGTH),
    ("[load]\nstages = [{duration = '5s', rate = inf}]", "load.stages.0.rate", FINITE),
    ("[load]\nstages = [{duration = '5s', rate = 1e7}]", "load.stages.0.rate", "requests/s"),
    ("[load]\nstages = [{duration = 'nan', rate = 5}]", "load.stages.0.duration", FINITE),
    ("[load]\nmodel = 'closed'\nusers = 1e11", "load.users", "socket each"),
    ("[load]\nmodel = 'closed'\nusers = inf", "load.users", FINITE),
    ("[load]\nmodel = 'closed'\nusers = 0", "load.users", "greater than or equal to 1"),
    ("[load]\nmax_in_flight = 1e11", "load.max_in_flight", "socket each"),
    ("[load]\nwait = ['0s', 'inf']", "load.wait.1", FINITE),
    ("[load]\nwait = ['0s', '2h']", "load.wait.1", RUN_LENGTH),
    ("[load]\nlate_tolerance = 'inf'", "load.late_tolerance", FINITE),
    ("[load]\ndrain = '2h'", "load.drain", RUN_LENGTH),
    ("[world]\nhunts = 1e6", "world.hunts", "fetches each one's description"),
    ("[world]\nplayers = 1e9", "world.players", "every player's progress"),
    ("[world]\nplaces_per_hunt = 1e6", "world.places_per_hunt", "in one response"),
    ("[world]\nclues_per_hunt = 1e6", "world.clues_per_hunt", "in one response"),
    ("[world]\ntreasures_per_hunt = 1e6", "world.treasures_per_hunt", "in one response"),
    ("[world]\nseed = 18446744073709551616", "world.seed", "64-bit"),
    ("seed = -18446744073709551616", "seed", "64-bit"),
    ("[mix]\ncheckin = inf", "mix.checkin", FINITE),
    ("[mix]\nclaim = 1e300", "mix.claim", "relative weights"),
    ("[mix]\nwrong_answer_rate = nan", "mix.wrong_answer_rate", FINITE),
    ("[mix]\nwrong_answer_rate = 2", "mix.wrong_answer_rate", "less than or equal to 1"),
]  # fmt: skip


def file_with(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bounded.toml"
    # a TOML table must come after the top-level keys: put `name` first
    path.write_text(f'name = "b"\n{body}\n')
    return path


@pytest.mark.parametrize(("body", "key", "why"), FILE_CASES)
def test_an_out_of_bounds_file_value_is_refused_naming_key_and_reason(
    tmp_path: Path, body: str, key: str, why: str
) -> None:
    path = file_with(tmp_path, body)
    with pytest.raises(ConfigError) as refused:
        load_scenario(str(path))
    first = refused.value.message.splitlines()[0]
    assert first.startswith(f"{path}: key '{key}': "), first
    assert why in first


def overrides(**given: Any) -> dict[str, Any]:
    return {"rate": None, "users": None, "duration_s": None, "seed": None, **given}


limit, _ = users_per_process_limit()

# (the command line's overrides, the option named, words of the reason)
OPTION_CASES = [
    (overrides(rate=float("inf")), "--rate", FINITE),
    (overrides(rate=float("nan")), "--rate", FINITE),
    (overrides(rate=1e300), "--rate", "resolution of the latency histograms"),
    (overrides(rate=-5.0), "--rate", "greater than 0"),
    (overrides(users=0), "--users", "greater than or equal to 1"),
    (overrides(users=10**12), "--users", "socket each"),
    (overrides(users=limit + 1), "--users", "users per generator process"),
    (overrides(users=1_000_000, duration_s=2.0), "--users", "users per generator process"),
    (overrides(duration_s=float("inf")), "--duration", FINITE),
    (overrides(duration_s=float("nan")), "--duration", FINITE),
    (overrides(duration_s=0.0), "--duration", "positive"),
    (overrides(duration_s=7200.0), "--duration", RUN_LENGTH),
    (overrides(duration_s=3599.0), "--duration", RUN_LENGTH),  # plus the drain
    (overrides(seed=2**64), "--seed", "64-bit"),
    (overrides(rate=10.0, users=5), "--rate", "exclude each other"),
]


@pytest.mark.parametrize(("given", "option", "why"), OPTION_CASES)
def test_an_out_of_bounds_option_is_refused_naming_it_and_the_reason(
    given: dict[str, Any], option: str, why: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_scenario("smoke").to_load_spec("http://127.0.0.1:1", Path("."), run_tag="t", **given)
    assert option in refused.value.message.splitlines()[0]
    assert why in refused.value.message


def test_users_are_bounded_per_generator_process(tmp_path: Path) -> None:
    smoke = load_scenario("smoke")
    many = min(limit, MAX_USERS_PER_PROCESS) * 2
    spec = smoke.to_load_spec(
        "http://127.0.0.1:1", tmp_path, **overrides(users=many), run_tag="t", generator_processes=2
    )
    assert spec.users == many
    with pytest.raises(ConfigError, match="per generator process spread over 2 processes"):
        smoke.to_load_spec(
            "http://127.0.0.1:1", tmp_path, **overrides(users=many + 2), run_tag="t",
            generator_processes=2,
        )  # fmt: skip


def test_the_open_model_counts_its_in_flight_cap_as_users(tmp_path: Path) -> None:
    path = file_with(tmp_path, f"[load]\nmax_in_flight = {limit + 1}")
    scenario = load_scenario(str(path))
    with pytest.raises(ConfigError, match=r"load.max_in_flight = \d+: .* users per generator"):
        scenario.to_load_spec("http://127.0.0.1:1", tmp_path, **overrides(), run_tag="t")


def test_a_run_is_bounded_by_the_range_of_the_latency_histograms() -> None:
    from veltrix_bench.hdr import HIGHEST_US

    assert MAX_RUN_S * 1_000_000 == HIGHEST_US


def test_the_bounds_let_every_bundled_scenario_through() -> None:
    for scenario in map(load_scenario, ["smoke", "steady", "overload", "ramp", "soak"]):
        assert isinstance(scenario, Scenario)
        scenario.to_load_spec("http://127.0.0.1:1", Path("."), **overrides(), run_tag="t")


@pytest.mark.parametrize(
    "arguments",
    [
        ["--users", "1000000", "--duration", "2s"],
        ["--rate", "inf"],
        ["--rate", "nan"],
        ["--rate", "1e300"],
        ["--duration", "2h"],
    ],
)
def test_vbench_run_refuses_before_starting_anything(tmp_path: Path, arguments: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "veltrix_bench", "run", "--out", str(tmp_path), *arguments],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == EXIT_USAGE, done.stderr
    output = (done.stdout + done.stderr).strip()
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert not list(tmp_path.iterdir()), "a run directory was made: something started"


@pytest.mark.parametrize("spread", [{"processes": 2}, {"expect_workers": 2}])
def test_vbench_run_counts_users_per_generator_process_over_its_processes(
    spread: dict[str, int],
) -> None:
    from veltrix_bench.run.orchestrator import RunOptions, prepare

    many = min(limit, MAX_USERS_PER_PROCESS) * 2  # too many for one process, not for two
    prepare(RunOptions(scenario="smoke", users=many, duration_s=2.0, **spread))
    with pytest.raises(ConfigError, match="spread over 2 processes"):
        prepare(RunOptions(scenario="smoke", users=many + 2, duration_s=2.0, **spread))
