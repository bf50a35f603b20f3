"""TOML files into validated models: every failure one ConfigError line naming file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from veltrix_bench.errors import EXIT_USAGE, ConfigError
from veltrix_bench.load.scenario import load_scenario
from veltrix_bench.tomlfile import read_toml, validate


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: float = Field(gt=0)
    name: str = "x"


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    load: Section
    seed: int = 1


def test_a_valid_file_reads_into_the_model(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text('seed = 3\n[load]\nrate = 50\nname = "steady"\n')
    document = validate(Document, read_toml(path), path)
    assert document == Document(load=Section(rate=50.0, name="steady"), seed=3)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found") as caught:
        read_toml(tmp_path / "absent.toml")
    assert str(tmp_path / "absent.toml") in caught.value.message
    assert caught.value.exit_code == EXIT_USAGE


def test_bad_toml_names_the_file_and_the_parser_complaint(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[load\nrate = 5\n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        read_toml(path)
    assert caught.value.message.startswith(str(path))


@pytest.mark.parametrize(
    ("data", "key", "expected"),
    [
        ({"load": {"rate": "fast"}}, "load.rate", "valid number"),
        ({"load": {"rate": -1}}, "load.rate", "greater than 0"),
        ({"load": {"rate": 5, "speed": 1}}, "load.speed", "unknown key"),
        ({}, "load", "required key is missing"),
        ({"load": {"rate": 5}, "seed": "one"}, "seed", "got 'one'"),
        ({"load": 5}, "load", "got 5"),
    ],
)
def test_a_validation_failure_names_the_file_the_key_and_what_was_expected(
    data: dict[str, object], key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate(Document, data, "scenario.toml")
    message = caught.value.message
    assert message.startswith(f"scenario.toml: key '{key}'")
    assert expected in message
    assert "\n" not in message


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(path))
    return caught.value.message.splitlines()


def test_every_problem_is_listed_one_per_line_unknown_keys_first(tmp_path: Path) -> None:
    path = tmp_path / "two.toml"
    path.write_text('nme = "typo"\n[load]\nrate = "fast"\nduraton = "5s"\n[world]\nhunts = 0\n')
    lines = problems(path)
    assert sorted(lines[:2]) == [
        f"{path}: key 'load.duraton': unknown key",
        f"{path}: key 'nme': unknown key",
    ]
    assert sorted(lines[2:]) == sorted(
        [
            f"{path}: key 'name': required key is missing",
            f"{path}: key 'load.rate': input should be a valid number, unable to parse string "
            "as a number (got 'fast')",
            f"{path}: key 'world.hunts': input should be greater than or equal to 1 (got 0)",
        ]
    )


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda path: path.mkdir(), "is a directory, expected a TOML file"),
        (lambda path: path.write_bytes(b'name = "caf\xe9"\n'), "not UTF-8 text (byte 11 is 0xe9)"),
        (lambda path: path.write_bytes(b"\xff\xfename"), "not UTF-8 text (byte 0 is 0xff)"),
        (lambda path: path.write_text("name = \n"), "not valid TOML"),
        (lambda path: None, "file not found"),
    ],
    ids=["directory", "latin-1", "utf-16-bom", "not-toml", "missing"],
)
def test_a_file_that_cannot_be_read_is_one_line(tmp_path: Path, make, expected: str) -> None:
    path = tmp_path / "scenario.toml"
    make(path)
    [line] = problems(path)
    assert line.startswith(f"{path}: {expected}")


@pytest.mark.parametrize("option", ["--scenario", "--config"])
def test_vbench_run_on_a_directory_exits_2_with_one_line(tmp_path: Path, option: str) -> None:
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "veltrix_bench", "run", option, str(folder)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == EXIT_USAGE
    assert (done.stdout + done.stderr).strip().splitlines() == [
        f"vbench: {folder}: is a directory, expected a TOML file"
    ]
