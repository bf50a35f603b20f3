"""What one run can hold: the bounded quantities of a scenario and the command line, each
bound with its reason, checked before anything starts.

Unbounded, `users = 1e11` or `--users 1000000` spent a minute and >1.2 GB spawning users
before sending a request, and `--rate inf` ran. Every count, rate and duration is a finite
number under a bound that says why; the files and the command-line options share these types.
"""

from __future__ import annotations

import ipaddress
import math
import re
import resource
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field

from veltrix_bench.durations import parse_duration
from veltrix_bench.errors import ConfigError

Number = TypeVar("Number", int, float)

MAX_RATE = 1_000_000.0
RATE_WHY = "requests/s: send times 1 µs apart, the resolution of the latency histograms"

MAX_RUN_S = 3600.0  # hdr.HIGHEST_US (not imported: it brings numpy into the CLI's start)
RUN_WHY = (
    "s: latency from the intended send time can grow as long as the run, "
    "and the histograms record up to 1 h"
)

MAX_USERS = 1_000_000
USERS_WHY = "users: ~50 KB of memory and a socket each"
MAX_USERS_PER_PROCESS = 20_000
"""Users (closed model) or requests in flight (open model: one user each) in one generator
process: ~1 GB at ~50 KB each (4,000 FastHttpUsers took 190 MB here)."""
OPEN_FILES_RESERVE = 256
"""Open files a generator keeps for itself besides its users' sockets (its SPARE_FILES)."""

MAX_HUNTS = 10_000
HUNTS_WHY = "hunts: the generator fetches each one's description before the load starts"
MAX_PER_HUNT = 10_000
PER_HUNT_WHY = "per hunt: a hunt's description lists them all in one response"
MAX_PLAYERS = 1_000_000
PLAYERS_WHY = "players: each generator process keeps every player's progress (~200 B each)"
MAX_WEIGHT = 1_000_000.0
WEIGHT_WHY = "relative weights: a million to one is already never"

_ZERO = re.compile(r"0+(?:\.0*)?(?:ms|s|m|h)?")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _at_most(limit: float, why: str) -> AfterValidator:
    def check(value: Number) -> Number:
        if value > limit:
            raise ValueError(f"at most {_shown(limit)} {why}")
        return value

    return AfterValidator(check)


def _shown(number: float) -> str:
    return f"{number:,.0f}" if float(number).is_integer() else f"{number:,g}"


def _seed(value: int) -> int:
    if not -(2**63) <= value < 2**63:
        raise ValueError("a seed is a 64-bit integer (the engine's config file is TOML)")
    return value


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("expected a duration like '30s' or '500ms'")
    seconds = parse_duration(value)
    if not math.isfinite(seconds):
        raise ValueError("expected a finite duration like '30s' or '500ms'")
    return seconds


def _seconds_or_zero(value: object) -> float:
    if isinstance(value, str) and _ZERO.fullmatch(value.strip()):
        return 0.0
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return 0.0
    return _seconds(value)


Seconds = Annotated[float, BeforeValidator(_seconds), _at_most(MAX_RUN_S, RUN_WHY)]
"""A positive duration, written '30s', '2m', '500ms' (or a bare number of seconds)."""
SecondsOrZero = Annotated[float, BeforeValidator(_seconds_or_zero), _at_most(MAX_RUN_S, RUN_WHY)]

Rate = Annotated[float, BeforeValidator(_finite), Field(gt=0), _at_most(MAX_RATE, RATE_WHY)]
StageRate = Annotated[float, BeforeValidator(_finite), Field(ge=0), _at_most(MAX_RATE, RATE_WHY)]
Users = Annotated[int, BeforeValidator(_finite), Field(ge=1), _at_most(MAX_USERS, USERS_WHY)]
Hunts = Annotated[int, BeforeValidator(_finite), Field(ge=1), _at_most(MAX_HUNTS, HUNTS_WHY)]
PerHunt = Annotated[
    int, BeforeValidator(_finite), Field(ge=1), _at_most(MAX_PER_HUNT, PER_HUNT_WHY)
]
Players = Annotated[int, BeforeValidator(_finite), Field(ge=1), _at_most(MAX_PLAYERS, PLAYERS_WHY)]
Weight = Annotated[float, BeforeValidator(_finite), Field(ge=0), _at_most(MAX_WEIGHT, WEIGHT_WHY)]
Share = Annotated[float, BeforeValidator(_finite), Field(ge=0, le=1)]
Seed = Annotated[int, BeforeValidator(_finite), AfterValidator(_seed)]


def run_length_problem(load_s: float, drain_s: float) -> str | None:
    """Why the load window plus its drain do not fit the histograms' range; None if they do."""
    if load_s + drain_s <= MAX_RUN_S:
        return None
    return (
        f"the load ({_shown(load_s)} s) plus its drain ({_shown(drain_s)} s) is longer than "
        f"{_shown(MAX_RUN_S)} {RUN_WHY}"
    )


def users_per_process_limit() -> tuple[int, str]:
    """How many users one generator process on this machine can hold, and why."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    by_files = hard - OPEN_FILES_RESERVE if hard != resource.RLIM_INFINITY else math.inf
    if by_files < MAX_USERS_PER_PROCESS:
        return max(0, int(by_files)), (
            f"each holds a socket, and the hard open-file limit here is {hard:,}, "
            f"{OPEN_FILES_RESERVE} of them kept for the generator itself"
        )
    return MAX_USERS_PER_PROCESS, "~50 KB of memory each: ~1 GB per process"


def check_users_fit(users: int, processes: int, what: str) -> None:
    """`users` spread over `processes` generator processes fit each process (ConfigError)."""
    per_process = math.ceil(users / max(1, processes))
    limit, why = users_per_process_limit()
    if per_process > limit:
        spread = "" if processes == 1 else f" spread over {processes} processes"
        raise ConfigError(
            f"{what}: {per_process:,} users per generator process{spread}, more than the "
            f"{limit:,} one can hold ({why}); use fewer, or more processes (--processes N)"
        )


MAX_LOCAL_PROCESSES = 64
LOCAL_PROCESSES_WHY = "each is a Python process of ~60 MB; beyond the cores they only contend"
MAX_REMOTE_WORKERS = 1_000
REMOTE_WORKERS_WHY = "the master merges every worker's histograms each second"


def check_generator_processes(
    processes: int, expect_workers: int, master_bind: str, master_port: int | None
) -> None:
    """The distributed-run options, before anything starts (ConfigError naming the option)."""
    if not 1 <= processes <= MAX_LOCAL_PROCESSES:
        raise ConfigError(
            f"--processes {processes}: from 1 to {MAX_LOCAL_PROCESSES} ({LOCAL_PROCESSES_WHY})"
        )
    if not 0 <= expect_workers <= MAX_REMOTE_WORKERS:
        raise ConfigError(
            f"--expect-workers {expect_workers}: from 0 to {MAX_REMOTE_WORKERS} "
            f"({REMOTE_WORKERS_WHY})"
        )
    if master_port is not None and not 1 <= master_port <= 65_535:
        raise ConfigError(f"--master-port {master_port}: a port is a number from 1 to 65535")
    if master_bind not in ("*", "0.0.0.0", "::"):
        try:
            ipaddress.ip_address(master_bind)
        except ValueError:
            raise ConfigError(
                f"--master-bind '{master_bind}': expected an IP address of this machine "
                "(127.0.0.1, 10.0.0.5, ::1) or 0.0.0.0 for every interface"
            ) from None
