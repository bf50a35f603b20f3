"""The conformance checks: the reference engine and an independent one pass them, and each
deliberately broken variant of the independent engine fails exactly the checks it should."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import EngineFactory
from veltrix_bench.contract.conformance import (
    BURST_CHECKS,
    CHECKS,
    ConformanceResult,
    Limits,
    Verdict,
    check_target,
)
from veltrix_bench.errors import RunFailed

INDEPENDENT_ENGINE = Path(__file__).parent / "independent_engine" / "engine.py"
EVERY_CHECK = [name for name, _ in CHECKS] + list(BURST_CHECKS)
# On a loaded test machine a wave may take seconds: keep bursting until the queue says 429.
PATIENT = Limits(burst_slow_wave_s=60.0)

# What the reference engine is known to get wrong today, with the issue that fixes it: the
# conformance checks must keep finding it until then (delete the entry when it lands).
KNOWN_REFERENCE_GAPS: dict[str, str] = {}

StartIndependent = Callable[..., str]


@pytest.fixture
def independent_engine(tmp_path: Path) -> Iterator[StartIndependent]:
    """Start the independent engine (optionally broken); each one is stopped with SIGTERM
    after the test and must exit 0."""
    started: list[subprocess.Popen[str]] = []

    def start(broken: str | None = None, capacity: int = 64) -> str:
        index = len(started)
        config = tmp_path / f"independent-{index}.toml"
        config.write_text(f'name = "independent"\n[queue]\ncapacity = {capacity}\n')
        command = [
            sys.executable, str(INDEPENDENT_ENGINE), "--port", "0",
            "--db", str(tmp_path / f"independent-{index}.db"), "--config", str(config),
            *(["--broken", broken] if broken else []),
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout is not None
        ready = re.match(r"VELTRIX READY port=(\d+) pid=(\d+)", process.stdout.readline())
        assert ready, "the independent engine printed no ready line"
        return f"http://127.0.0.1:{ready[1]}"

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0


def verdicts_except(result: ConformanceResult, **expected: Verdict) -> dict[str, Verdict]:
    """Every check's verdict as the test expects it: pass unless named."""
    assert [check.name for check in result.checks] == EVERY_CHECK
    return {name: expected.get(name, Verdict.PASS) for name in EVERY_CHECK}


def test_the_reference_engine_passes_with_a_bounded_queue(engine_factory: EngineFactory) -> None:
    engine = engine_factory("tuned", queue={"capacity": 256})
    result = check_target(engine.url, PATIENT)
    gaps = {name: Verdict.FAIL for name in KNOWN_REFERENCE_GAPS}
    assert result.verdicts() == verdicts_except(result, **gaps), result.checks
    assert result.requests <= PATIENT.max_requests


def test_an_unbounded_queue_is_a_warning_not_a_failure(engine_factory: EngineFactory) -> None:
    engine = engine_factory("default")
    result = check_target(engine.url)  # the default limits stop bursting at a slow wave
    gaps = {name: Verdict.FAIL for name in KNOWN_REFERENCE_GAPS}
    assert result.verdicts() == verdicts_except(result, retry_after=Verdict.WARN, **gaps)
    warning = next(check for check in result.checks if check.name == "retry_after")
    assert "no 429 within" in warning.detail


def test_the_independent_engine_passes_every_check(independent_engine: StartIndependent) -> None:
    result = check_target(independent_engine(), PATIENT)
    assert result.passed
    assert result.verdicts() == verdicts_except(result), result.checks


@pytest.mark.slow
@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ("two-winners", {"one_winner": Verdict.FAIL}),
        ("apply-retries", {"retried_id": Verdict.FAIL, "duplicate_in_request": Verdict.FAIL}),
        ("unnamed-field", {"bad_event_400": Verdict.FAIL}),
        ("no-retry-after", {"retry_after": Verdict.FAIL}),
        ("stats-shape", {"stats": Verdict.FAIL, "acked_equals_persisted": Verdict.WARN}),
        # missing stats are what a run lacks, not a failure
        ("no-stats", {"stats": Verdict.WARN, "acked_equals_persisted": Verdict.WARN}),
    ],
)
def test_a_broken_engine_fails_exactly_the_checks_it_breaks(
    independent_engine: StartIndependent, broken: str, expected: dict[str, Verdict]
) -> None:
    result = check_target(independent_engine(broken), PATIENT)
    assert result.verdicts() == verdicts_except(result, **expected), result.checks
    assert result.passed == (Verdict.FAIL not in expected.values())


def test_a_warning_says_what_a_run_will_lack(independent_engine: StartIndependent) -> None:
    result = check_target(independent_engine("no-stats"), PATIENT)
    stats = next(check for check in result.checks if check.name == "stats")
    assert "acked_equals_persisted and claims_exactly_once" in stats.detail


def test_the_checks_stop_at_their_request_budget(independent_engine: StartIndependent) -> None:
    result = check_target(independent_engine(), Limits(max_requests=120))
    assert result.requests == 120
    events = next(check for check in result.checks if check.name == "events")
    assert events.verdict == Verdict.FAIL and "budget of 120 requests" in events.detail


def test_an_unreachable_target_is_a_failed_run() -> None:
    with pytest.raises(RunFailed, match="unreachable"):
        check_target("http://127.0.0.1:9", Limits(request_timeout_s=2.0))
