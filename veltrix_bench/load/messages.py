"""What a share reports and what master and workers say to each other, as typed messages.

A share (the one of a local run, or a worker's) reports each second of the window as an
`IntervalReport` and its whole run once as a `ShareResult`; histograms travel encoded
(HdrHistogram's own format), so the merge is exact. Between processes the messages ride
in Locust's own ones as msgpack bytes (msgspec), decoded and validated in one step.
Pure data (no gevent): the master, the workers, the local run and the tests import it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from hdrh.histogram import HdrHistogram

from veltrix_bench.load.protocol import LateStarts, RequestCounts, Tick
from veltrix_bench.load.spec import LoadSpec, decode_path, encode_path

# message types between master and workers (besides Locust's own)
HELLO, SETUP, READY, WARM, WINDOW, CLOSE = (
    "vbench_hello", "vbench_setup", "vbench_ready", "vbench_warm", "vbench_window", "vbench_close",
)  # fmt: skip

KEY = "vbench"
"""The key of vbench's msgpack bytes in the data of Locust's messages (and worker reports)."""

PROTOCOL = 1
"""Bumped whenever a message below changes shape: a master refuses a worker of another one."""


class IntervalReport(msgspec.Struct, frozen=True):
    """One share's second of the window: its tick and that second's histograms."""

    tick: Tick
    latency: bytes
    service: bytes

    @classmethod
    def of(cls, tick: Tick, latency: HdrHistogram, service: HdrHistogram) -> IntervalReport:
        return cls(tick, latency.encode(), service.encode())


class ShareResult(msgspec.Struct, frozen=True):
    """A share's whole-run result, sent once after its drain."""

    interrupted: bool
    drained: bool
    started: int
    unanswered: int
    requests: RequestCounts
    late_starts: LateStarts
    acked_by_type: dict[str, int]
    sent_by_type: dict[str, int]
    wins_seen: dict[str, int]
    error_samples: list[str]
    latency: bytes
    service: bytes
    start_delay: bytes
    loop_lag: bytes
    peak_rss_mb: float
    cpu_share: float


class Report(msgspec.Struct, frozen=True):
    """A worker's ride-along in Locust's periodic report: new intervals, then its result."""

    intervals: list[IntervalReport]
    result: ShareResult | None = None


class Hello(msgspec.Struct, frozen=True):
    pid: int
    name: str
    protocol: int = 0  # workers from before the field existed say nothing: 0


class LocustfileSource(msgspec.Struct, frozen=True):
    """A custom locustfile travels as source: a worker imports its copy, not a master's path."""

    name: str
    source: str


class Setup(msgspec.Struct, frozen=True):
    """The master's answer to a hello: the spec and which share k of n the worker holds."""

    spec: LoadSpec
    index: int
    shares: int
    locustfile: LocustfileSource | None = None


class WorkerReady(msgspec.Struct, frozen=True):
    """The worker built its share (or says why it could not)."""

    index: int
    name: str
    error: str | None = None


class Warm(msgspec.Struct, frozen=True):
    index: int
    users: int


class WindowStart(msgspec.Struct, frozen=True):
    opens_in_s: float
    """A delay from sending, not a wall-clock time: a worker elsewhere has its own clock."""


class Close(msgspec.Struct, frozen=True):
    interrupted: bool


Message = TypeVar("Message")


def pack(message: Any) -> dict[str, Any]:
    """The data of a Locust message (or the part of a worker report) carrying `message`."""
    return {KEY: msgspec.msgpack.encode(message, enc_hook=encode_path)}


def unpack(data: dict[str, Any], kind: type[Message]) -> Message:
    return msgspec.msgpack.decode(data[KEY], type=kind, dec_hook=decode_path)
