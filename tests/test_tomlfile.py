"""TOML files into validated models: every failure one ConfigError line naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from veltrix_bench.errors import EXIT_USAGE, ConfigError
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
