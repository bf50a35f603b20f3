"""`vbench` usage errors through Typer's test runner: one line, exit 2, nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from veltrix_bench.cli import app
from veltrix_bench.run.target import check_target

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--scenario", "nope"], "unknown scenario 'nope'; available:"),
        (["run", "--rate", "5", "--users", "3"], "exclude each other"),
        (["run", "--duration", "5x"], "--duration: '5x' is not a duration"),
        (["run", "--config", "fastest"], "config 'fastest': no such preset or file"),
        (["run", "--target", "http://10.0.0.1:80"], "not a loopback address"),
        (["run", "--target", "http://example.com"], "pass --allow-remote"),
        (["run", "--target", "ftp://127.0.0.1"], "expected a URL like"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # refused before any run directory or process


def test_a_bad_scenario_file_names_file_key_and_expectation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[load]\nrate = "fast"\n')
    result = runner.invoke(app, ["run", "--scenario", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert str(bad) in result.output and "load.rate" in result.output


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.8.9.10:80", True),
        ("http://localhost:1234", True),
        ("http://[::1]:8080", True),
        ("http://192.168.1.4:8080", False),
        ("http://10.1.1.1", False),
        ("http://loadtest.example.org", False),
    ],
)
def test_only_loopback_targets_without_allow_remote(url: str, allowed: bool) -> None:
    from veltrix_bench.errors import VbenchError

    if allowed:
        assert check_target(url, allow_remote=False) == url
    else:
        with pytest.raises(VbenchError):
            check_target(url, allow_remote=False)
        assert check_target(url, allow_remote=True) == url


def test_scenarios_lists_every_bundled_scenario_one_line_each() -> None:
    result = runner.invoke(app, ["scenarios"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.strip().splitlines()]
    for name in ("smoke", "steady", "overload", "ramp", "claim-storm", "soak"):
        assert name in names


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("vbench ")
