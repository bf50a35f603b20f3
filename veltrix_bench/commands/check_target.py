"""`vbench check-target URL`: an engine implementation against the contract, check by check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from veltrix_bench.commands.options import duration_option
from veltrix_bench.contract import conformance
from veltrix_bench.contract.conformance import ConformanceResult, Limits
from veltrix_bench.errors import EXIT_CHECK_FAILED, EXIT_OK, UsageError
from veltrix_bench.report.junit import render_conformance
from veltrix_bench.run.target import check_target as guard_target
from veltrix_bench.writable import writable_file

MAX_REQUESTS = 1_000_000
MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class CheckTargetOptions:
    url: str
    allow_remote: bool = False
    junit: Path | None = None
    max_requests: int = Limits.max_requests
    timeout: str = "3m"


@dataclass(frozen=True)
class CheckTargetOutcome:
    result: ConformanceResult
    exit_code: int


def check_target(options: CheckTargetOptions) -> CheckTargetOutcome:
    """Exit 0 when no check failed (warnings allowed), 1 otherwise; RunFailed (exit 3) when
    the target does not answer at all. Loopback only unless `allow_remote`."""
    url = guard_target(options.url, options.allow_remote, "check-target URL")
    seconds = duration_option(options.timeout, "--timeout")
    if seconds is None or not 0 < seconds <= MAX_SECONDS:
        raise UsageError(f"--timeout {options.timeout}: expected more than 0 s, at most 1 h")
    if not 1 <= options.max_requests <= MAX_REQUESTS:
        raise UsageError(f"--max-requests {options.max_requests}: expected 1 to {MAX_REQUESTS:,}")
    if options.junit is not None:
        writable_file(options.junit, "--junit")
    result = conformance.check_target(
        url, Limits(max_requests=options.max_requests, max_seconds=seconds)
    )
    if options.junit is not None:
        options.junit.write_text(render_conformance(result))
    return CheckTargetOutcome(result, EXIT_OK if result.passed else EXIT_CHECK_FAILED)
