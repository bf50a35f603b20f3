"""Gate: the check grammar and units, verdicts on fixed trial data, JUnit XML, step summary."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tests.summaries import summary_of
from veltrix_bench.analysis.checks import CheckError, parse_check
from veltrix_bench.analysis.compare import PAIRED
from veltrix_bench.analysis.gate import regression_checks, threshold_checks
from veltrix_bench.analysis.metrics import METRICS, MIN_TAIL_SAMPLES
from veltrix_bench.analysis.paired import (
    MIN_ROUNDS,
    ONE_SIDED_95,
    ROUNDS_ONE_ODD_CANNOT_END,
    paired_ratio,
)
from veltrix_bench.cli import app
from veltrix_bench.commands.compare import CompareOptions
from veltrix_bench.commands.gate import GateOptions
from veltrix_bench.load.scenario import load_scenario
from veltrix_bench.models.documents import document_text
from veltrix_bench.models.gate import GateResult, RegressionCheck
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


# Twelve rounds' p99 (ms): whole rounds drift together, the sides of a round differ by a few %.
BASE = [40.1, 37.0, 45.9, 39.2, 36.0, 42.0, 43.4, 38.1, 40.9, 46.6, 38.8, 41.3]
WOBBLE = [1.03, 0.97, 1.01, 0.96, 1.04, 1.00, 0.98, 1.02, 0.99, 1.05, 0.985, 1.015]
ODD = 3  # the round in which one trial hit a long stall: its p99 1.6 times as high


def trials(p99s: list[float], total: int = 10_000) -> list[Trial]:
    """Trials of interleaved rounds 0, 1, ... with enough requests beyond p99 to judge it."""
    return [Trial(summary(p99=v, requests={"total": total}), ((), i)) for i, v in enumerate(p99s)]


def candidate(ratio: float, odd: str | None = None) -> tuple[list[float], list[float]]:
    base = list(BASE)
    cand = [b * ratio * w for b, w in zip(BASE, WOBBLE, strict=True)]
    if odd == "baseline":
        base[ODD] *= 1.6
    elif odd == "candidate":
        cand[ODD] *= 1.6
    return base, cand


def gate(ratio: float, bound: float, odd: str | None = None) -> RegressionCheck:
    base, cand = candidate(ratio, odd)
    (check,) = regression_checks(trials(base), trials(cand), {"p99": bound})
    return check


@pytest.mark.parametrize("odd", [None, "baseline", "candidate"])
def test_a_quarter_slower_p99_fails_the_gate_despite_one_odd_round(odd: str | None) -> None:
    check = gate(1.25, 0.10, odd)
    assert not check.passed and check.evidence.verdict == "worse"
    assert check.evidence.ratio == pytest.approx(1.25, abs=0.02)
    assert check.evidence.ci_low is not None and check.evidence.ci_low > 1.10


@pytest.mark.parametrize("odd", [None, "baseline", "candidate"])
def test_the_same_odd_round_in_an_aa_gate_passes_at_a_5_percent_bound(odd: str | None) -> None:
    check = gate(1.0, 0.05, odd)
    assert check.passed and check.evidence.verdict == "no difference called"


def test_the_gate_judges_by_the_one_sided_95_percent_bound_and_says_so() -> None:
    check = gate(1.25, 0.10)
    base, cand = candidate(1.25)
    bound = paired_ratio(list(zip(base, cand, strict=True)), ONE_SIDED_95)
    assert bound is not None
    evidence = check.evidence
    assert (evidence.ratio, evidence.ci_low, evidence.ci_high) == (
        bound.ratio, bound.low, bound.high,
    )  # fmt: skip
    assert evidence.method == PAIRED and evidence.confidence == ONE_SIDED_95
    assert evidence.pairs == list(zip(base, cand, strict=True)) and evidence.paired_rounds == 12
    assert "one-sided 95% bound" in check.message and "12 paired rounds" in check.message
    assert "the bound is beyond it" in check.message and "warning" not in check.message


def test_fewer_rounds_than_one_odd_round_cannot_end_are_warned_of() -> None:
    base, cand = candidate(1.25)
    (check,) = regression_checks(trials(base[:8]), trials(cand[:8]), {"p99": 0.10})
    assert check.evidence.paired_rounds == 8
    assert "warning: with fewer than 10 paired rounds one odd round" in check.message


def test_a_rise_within_the_allowed_bound_passes() -> None:
    assert gate(1.03, 0.10).passed


def test_an_improvement_is_not_a_regression() -> None:
    assert gate(0.5, 0.10).passed


def test_too_few_rounds_fail_as_insufficient_data() -> None:
    base, cand = candidate(1.0)
    (check,) = regression_checks(trials(base[:5]), trials(cand[:5]), {"p99": 0.10})
    assert not check.passed and check.evidence.verdict == "insufficient data"
    assert "insufficient data: 5 paired rounds" in check.message


def test_trials_that_are_not_paired_rounds_fail_as_insufficient_data() -> None:
    """Finished runs without rounds: however many, and however clear the rise, no verdict."""
    base, cand = candidate(2.0)
    unpaired = [[Trial(t.summary) for t in trials(side)] for side in (base, cand)]
    (check,) = regression_checks(unpaired[0], unpaired[1], {"p99": 0.10})
    assert not check.passed and check.evidence.verdict == "insufficient data"
    assert "did not run as paired rounds" in check.message and check.evidence.pairs == []


def test_a_thin_tail_fails_before_the_rounds_are_counted() -> None:
    base, cand = candidate(1.0)
    (check,) = regression_checks(trials(base, 500), trials(cand, 500), {"p99": 0.10})
    assert not check.passed and "5 requests beyond it" in check.message


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


def finished_gate(tmp_path: Path, name: str, ratio: float, failed: int | None = None) -> Path:
    """A gate directory as `vbench gate` leaves it: gate.json, and trials/ whose summaries say
    their round, position and side (the sides swap places every round); in round `failed` the
    candidate's engine died."""
    gate_dir = tmp_path / name
    base, cand = candidate(ratio)
    for index, values in enumerate(zip(base, cand, strict=True)):
        for side_index, p99 in enumerate(values):
            place = {
                "round": index, "profile": [], "position": 1 + (side_index + index) % 2,
                "side": ["tuned (A)", "tuned (B)"][side_index], "side_index": side_index,
            }  # fmt: skip
            status = "engine_died" if (index, side_index) == (failed, 1) else "complete"
            trial = summary(p99=p99, requests={"total": 10_000}, interleaved=place, status=status)
            run_dir = gate_dir / "trials" / f"{index:02d}-{side_index}"
            run_dir.mkdir(parents=True)
            (run_dir / "summary.json").write_text(document_text(trial))
    (gate_dir / "gate.json").write_text("{}")
    return gate_dir


def regate(baseline: Path, candidate: Path, out: Path, bound: str = "10%") -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["gate", "--baseline", str(baseline), "--candidate", str(candidate),
         "--max-regression", f"p99={bound}", "--out", str(out)],
    )  # fmt: skip
    gate_json = json.loads(Path(result.output.strip().splitlines()[-1]).read_text())
    evidence: dict[str, Any] = gate_json["checks"][0]["evidence"]
    return {"exit": result.exit_code, **evidence}


def test_a_finished_gate_directory_gates_again_in_its_rounds(tmp_path: Path) -> None:
    slower = finished_gate(tmp_path, "slower", 1.25)
    again = regate(slower, slower, tmp_path / "out")
    assert again["exit"] == 1 and again["paired_rounds"] == 12 and again["method"] == PAIRED
    assert again["pairs"] == [list(pair) for pair in zip(*candidate(1.25), strict=True)]
    same = finished_gate(tmp_path, "same", 1.0)
    assert regate(same, same, tmp_path / "out")["exit"] == 0


def test_a_trial_that_failed_in_a_finished_gate_is_left_out_again(tmp_path: Path) -> None:
    gate_dir = finished_gate(tmp_path, "lost", 1.25, failed=4)
    again = regate(gate_dir, gate_dir, tmp_path / "out")
    assert again["paired_rounds"] == 11 and len(again["candidate"]) == 11
    assert again["pairs"] == [
        list(pair) for i, pair in enumerate(zip(*candidate(1.25), strict=True)) if i != 4
    ]


def test_rounds_of_two_finished_gates_are_not_paired_with_each_other(tmp_path: Path) -> None:
    one, other = finished_gate(tmp_path, "one", 1.0), finished_gate(tmp_path, "other", 1.25)
    across = regate(one, other, tmp_path / "out")
    assert across["exit"] == 1 and across["verdict"] == "insufficient data"
    assert across["paired_rounds"] == 0 and across["pairs"] == []


def test_the_defaults_pair_enough_rounds_of_trials_long_enough_to_judge_p99() -> None:
    commands = typer.main.get_group(app).commands
    gate_options = {option.name: option for option in commands["gate"].params}
    compare_options = {option.name: option for option in commands["compare"].params}
    trials = gate_options["trials"]
    assert trials.default == GateOptions().trials >= ROUNDS_ONE_ODD_CANNOT_END[ONE_SIDED_95]
    assert trials.min == MIN_ROUNDS  # type: ignore[attr-defined]
    assert gate_options["scenario"].default == GateOptions().scenario == "gate"
    assert compare_options["trials"].default == CompareOptions(sides=[]).trials >= MIN_ROUNDS
    load = load_scenario("gate").load
    assert load.peak_rate is not None
    assert load.peak_rate * load.total_duration_s * METRICS["p99"].tail >= 2 * MIN_TAIL_SAMPLES


@pytest.mark.slow
def test_a_gate_records_each_trials_round_and_side_and_gates_the_same_again(
    tmp_path: Path,
) -> None:
    """Real trials: every summary says its round, position and side, the sides swap places
    each round, no trial writes report.html, and the gate directory gates again to the same
    evidence."""
    done = subprocess.run(
        [sys.executable, "-m", "veltrix_bench", "gate", "--baseline", "tuned", "--candidate",
         "tuned", "--max-regression", "p99=50%", "--trials", "6", "--duration", "1.5s",
         "--out", str(tmp_path / "first")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    gate_json = Path(done.stdout.strip().splitlines()[-1])
    evidence = json.loads(gate_json.read_text())["checks"][0]["evidence"]
    assert evidence["paired_rounds"] == 6 and evidence["method"] == PAIRED
    places = [
        json.loads(summary.read_text())["interleaved"]
        for summary in sorted(gate_json.parent.glob("trials/*/summary.json"))
    ]
    assert [(p["round"], p["position"], p["side_index"]) for p in places] == [
        (r, position, (r + position - 1) % 2) for r in range(6) for position in (1, 2)
    ]
    assert not list(gate_json.parent.glob("trials/*/report.html"))
    again = regate(gate_json.parent, gate_json.parent, tmp_path / "again", "50%")
    assert again["exit"] == 0
    assert {key: again[key] for key in evidence} == evidence
