"""A config or scenario file that cannot be used is a ConfigError naming the file and every
problem in it, one per line, the most useful first; never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from veltrix_bench.errors import EXIT_USAGE, ConfigError
from veltrix_bench.load.scenario import load_scenario


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
