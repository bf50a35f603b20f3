"""Scenario files: clear errors for bad ones, every bundled one loads, CLI overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import python_output
from veltrix_bench.errors import ConfigError
from veltrix_bench.load.scenario import (
    SCENARIO_DIR,
    bundled_names,
    list_scenarios,
    load_scenario,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    return path


def scenario_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(path))
    return caught.value.message


def test_unknown_key_is_named_with_its_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\n[load]\nrat = 100\n')
    message = scenario_error(path)
    assert message.startswith(f"{path}: key 'load.rat': unknown key")


def test_wrong_type_names_the_key_and_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\n[load]\nrate = "fast"\n')
    message = scenario_error(path)
    assert message.startswith(f"{path}: key 'load.rate':")
    assert "'fast'" in message


def test_bad_duration_names_the_key_and_what_is_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\n[load]\nrate = 10\nduration = "ten seconds"\n')
    message = scenario_error(path)
    assert message.startswith(f"{path}: key 'load.duration':")
    assert "30s" in message and "'ten seconds'" in message


def test_bad_stage_duration_points_into_the_stage_list(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\n[load]\nstages = [{duration = "5x", rate = 10}]\n')
    assert f"{path}: key 'load.stages.0.duration':" in scenario_error(path)


def test_stages_and_rate_together_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'name = "x"\n[load]\nrate = 5\nstages = [{duration = "5s", rate = 10}]\n'
    )
    message = scenario_error(path)
    assert message.startswith(f"{path}: key 'load':")
    assert "either 'stages' or 'rate'" in message


def test_unknown_profile_kind_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\nprofile = ["gpu"]\n')
    assert f"{path}: key 'profile.0':" in scenario_error(path)


def test_missing_name_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, 'description = "nameless"\n')
    assert scenario_error(path) == f"{path}: key 'name': required key is missing"


def test_not_toml_at_all_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "name = \n")
    assert scenario_error(path).startswith(f"{path}: not valid TOML")


def test_unknown_bundled_name_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load_scenario("no-such-scenario")
    assert "available: " in caught.value.message
    assert "smoke" in caught.value.message and "overload" in caught.value.message


def test_defaults_fill_everything_but_the_name(tmp_path: Path) -> None:
    scenario = load_scenario(str(write(tmp_path, 'name = "bare"\n')))
    assert scenario.load.model == "open"
    assert scenario.load.stage_list == ((10.0, 100.0),)
    assert scenario.load.wait == (0.0, 0.05)
    assert scenario.load.late_tolerance == 0.01
    assert scenario.world.players == 2000
    assert scenario.mix.wrong_answer_rate == 0.1
    assert scenario.thresholds.checks == ()


def test_durations_are_held_in_seconds(tmp_path: Path) -> None:
    text = (
        'name = "d"\n[load]\nmodel = "closed"\nusers = 3\nduration = "1m30s"\n'
        'wait = ["0ms", "250ms"]\nlate_tolerance = "5ms"\ndrain = "2s"\n'
    )
    scenario = load_scenario(str(write(tmp_path, text)))
    assert scenario.load.total_duration_s == 90.0
    assert scenario.load.wait == (0.0, 0.25)
    assert (scenario.load.late_tolerance, scenario.load.drain) == (0.005, 2.0)


def test_every_bundled_scenario_loads_under_its_own_name() -> None:
    scenarios = list_scenarios()
    expected = {"smoke", "steady", "overload", "ramp", "claim-storm", "soak"}
    assert expected <= {scenario.name for scenario in scenarios}
    for scenario in scenarios:
        assert scenario.name in bundled_names()
        assert scenario.description
        assert load_scenario(scenario.name) == scenario


def test_bundled_scenarios_have_the_promised_shapes() -> None:
    smoke = load_scenario("smoke")
    assert smoke.load.total_duration_s + smoke.load.drain <= 10
    assert load_scenario("overload").load.peak_rate == 2000  # the incident's rate
    assert load_scenario("overload").load.max_in_flight >= 4000
    assert [rate for _, rate in load_scenario("ramp").load.stage_list] == [250, 500, 1000, 2000]
    assert load_scenario("soak").load.total_duration_s == 600


def test_a_path_to_a_bundled_file_loads_too() -> None:
    assert load_scenario(str(SCENARIO_DIR / "smoke.toml")).name == "smoke"


def test_rate_override_forces_a_constant_open_model(tmp_path: Path) -> None:
    scenario = load_scenario(str(write(tmp_path, 'name = "c"\n[load]\nmodel = "closed"\n')))
    spec = scenario.to_load_spec(
        "http://127.0.0.1:1/",
        tmp_path,
        rate=300,
        users=None,
        duration_s=None,
        seed=None,
        run_tag="r1",
    )
    assert spec.model == "open"
    assert spec.stages == ((10.0, 300.0),)
    assert spec.target == "http://127.0.0.1:1"


def test_users_override_forces_the_closed_model() -> None:
    spec = load_scenario("steady").to_load_spec(
        "http://t", Path("out"), rate=None, users=7, duration_s=5, seed=None, run_tag="r1"
    )
    assert (spec.model, spec.users, spec.duration_s) == ("closed", 7, 5.0)
    assert spec.target_rate_at(1.0) is None


def test_duration_override_scales_stages_and_keeps_the_ramp_shape() -> None:
    spec = load_scenario("ramp").to_load_spec(
        "http://t", Path("out"), rate=None, users=None, duration_s=8, seed=99, run_tag="r1"
    )
    assert spec.stages == ((2.0, 250.0), (2.0, 500.0), (2.0, 1000.0), (2.0, 2000.0))
    assert spec.seed == 99
    assert spec.target_rate_at(5.0) == 1000.0


def test_rate_and_users_together_are_a_usage_error() -> None:
    with pytest.raises(ConfigError):
        load_scenario("smoke").to_load_spec(
            "http://t", Path("out"), rate=10, users=2, duration_s=None, seed=None, run_tag="r"
        )


def test_the_cli_facing_modules_do_not_import_gevent_or_locust() -> None:
    code = (
        "import sys; import veltrix_bench.load.scenario, veltrix_bench.load.spec, "
        "veltrix_bench.load.protocol, veltrix_bench.load.liveness, veltrix_bench.load.messages, "
        "veltrix_bench.load.merge; "
        "print(sorted(m for m in ('gevent', 'locust', 'geventhttpclient') if m in sys.modules))"
    )
    assert python_output(code) == "[]"
