"""Gate: the check grammar and units, verdicts on fixed trial data, JUnit XML, step summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.summaries import summary_of
from veltrix_bench.analysis.checks import CheckError, parse_check
from veltrix_bench.analysis.gate import regression_checks, threshold_checks
from veltrix_bench.cli import app
from veltrix_bench.models.documents import document_text
from veltrix_bench.models.gate import GateResult
from veltrix_bench.models.summary import Summary, Trial
from veltrix_bench.report import publish_gate
from veltrix_bench.report.junit import render as junit_xml


def summary(p99: float = 40.0, error_rate: float = 0.0, **extra: Any) -> Summary:
    return summary_of({
        "run_id": "r1",
        "status": "complete",
        "profiled": False,
        "latency_ms": {
            "p50": 5.0,
            "p90": 20.0,
            "p95": 30.0,
            "p99": p99,
            "p999": 90.0,
            "max": 120.0,
            "mean": 8.0,
        },  # fmt: skip
        "service_time_ms": {"p99": p99 * 0.9},
        "requests": {
            "total": 1000,
            "ok": 990,
            "errors": 10,
            "rejected": 0,
            "error_rate": error_rate,
            "throughput_rps": 200.0,
        },  # fmt: skip
        "engine": {"peak_rss_mb": 80.0, "max_queue_depth": 3},
        "memory": None,
        "cpu": None,
        "thresholds": ["p99 < 50ms"],
        **extra,
    })  # fmt: skip


@pytest.mark.parametrize(
    ("text", "value", "passes"),
    [
        ("p99 < 50ms", 40.0, True),
        ("p99 < 50ms", 50.0, False),
        ("p99 <= 50ms", 50.0, True),
        ("p99 > 0.03s", 40.0, True),
        ("p99 >= 40000us", 40.0, True),
        ("p99 == 40", 40.0, True),
        ("p99 != 40", 40.0, False),
        ("p99 < 39.9", 40.0, False),
    ],
)
def test_every_operator_and_time_unit(text: str, value: float, passes: bool) -> None:
    assert parse_check(text).evaluate(summary(p99=value)).passed is passes


def test_percent_is_a_fraction_and_dotted_paths_reach_any_number() -> None:
    assert parse_check("error_rate < 1%").bound == pytest.approx(0.01)
    assert parse_check("error_rate < 1%").evaluate(summary(error_rate=0.02)).passed is False
    assert parse_check("requests.total >= 1000").evaluate(summary()).passed is True
    assert parse_check("latency_ms.p999 < 0.1s").evaluate(summary()).passed is True
    assert parse_check("throughput > 150").evaluate(summary()).passed is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p99 ~ 50ms", "expected METRIC OP NUMBER[UNIT]"),
        ("p99 < fast", "expected METRIC OP NUMBER[UNIT]"),
        ("latency < 50ms", "unknown metric 'latency'"),
        ("p99 < 5%", "not a fraction"),
        ("error_rate < 5ms", "not a time"),
    ],
)
def test_malformed_checks_name_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(CheckError) as caught:
        parse_check(text)
    assert message in str(caught.value)


def test_a_metric_missing_from_the_summary_fails_rather_than_passing() -> None:
    result = parse_check("allocations_per_event < 400").evaluate(summary())
    assert result.passed is False and "not in this summary" in result.detail


BASE = [40.1, 41.0, 39.5, 40.6, 40.2]


def trials(p99s: list[float]) -> list[Trial]:
    return [Trial(summary(p99=v)) for v in p99s]


def test_no_regression_is_called_inside_the_noise() -> None:
    same = [40.4, 39.8, 41.2, 40.0, 40.9]
    (check,) = regression_checks(trials(BASE), trials(same), {"p99": 0.10})
    assert check.passed and check.evidence.verdict == "no difference called"


def test_a_30_percent_rise_is_a_regression_with_its_evidence() -> None:
    slower = [v * 1.3 for v in BASE]
    (check,) = regression_checks(trials(BASE), trials(slower), {"p99": 0.10})
    assert not check.passed
    assert check.evidence.ci_low > 1.10 and check.evidence.ratio == pytest.approx(1.3, 0.01)
    assert "95% CI" in check.message and "5+5 trials" in check.message


def test_a_rise_within_the_allowed_bound_passes() -> None:
    slightly = [v * 1.03 for v in BASE]
    (check,) = regression_checks(trials(BASE), trials(slightly), {"p99": 0.10})
    assert check.passed


def test_an_improvement_is_not_a_regression() -> None:
    (check,) = regression_checks(trials(BASE), trials([v / 2 for v in BASE]), {"p99": 0.10})
    assert check.passed


def test_too_few_trials_cannot_pass() -> None:
    (check,) = regression_checks(trials(BASE[:1]), trials(BASE[:1]), {"p99": 0.10})
    assert not check.passed and "cannot be judged" in check.message


def gate_result() -> GateResult:
    checks = [parse_check("p99 < 50ms"), parse_check("error_rate < 1%")]
    return GateResult.of(list(threshold_checks(checks, summary(p99=60.0))), "run r1")


def test_junit_xml_parses_back_with_one_case_per_check() -> None:
    root = ET.fromstring(junit_xml(gate_result()))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["p99 < 50ms", "error_rate < 1%"]
    failure = cases[0].find("failure")
    assert failure is not None and "p99 = 60 ms" in (failure.get("message") or "")
    assert cases[1].find("failure") is None


def test_step_summary_is_written_only_when_the_variable_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    publish_gate(gate_result(), tmp_path, None)
    assert json.loads((tmp_path / "gate.json").read_text())["passed"] is False
    target = tmp_path / "step-summary.md"
    assert not target.exists()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    publish_gate(gate_result(), tmp_path, tmp_path / "junit.xml")
    assert "vbench gate ❌ failed" in target.read_text()
    assert (tmp_path / "junit.xml").exists()


def write_run(tmp_path: Path, **fields: Any) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text(document_text(summary(**fields)))
    return run_dir


def test_gate_command_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    run_dir = write_run(tmp_path)
    assert runner.invoke(app, ["gate", str(run_dir)]).exit_code == 0  # scenario thresholds
    assert runner.invoke(app, ["gate", str(run_dir), "--check", "p99 < 30ms"]).exit_code == 1
    bad = runner.invoke(app, ["gate", str(run_dir), "--check", "p99 <> 3"])
    assert bad.exit_code == 2 and "p99 <> 3" in bad.output
    unknown = runner.invoke(app, ["gate", str(run_dir), "--check", "speed < 3"])
    assert unknown.exit_code == 2 and "unknown metric 'speed'" in unknown.output
    assert runner.invoke(app, ["gate", str(tmp_path / "nothing")]).exit_code == 2


def test_gate_on_a_failed_run_exits_3(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, status="engine_died")
    assert CliRunner().invoke(app, ["gate", str(run_dir)]).exit_code == 3
