"""Open-model HTTP load from one asyncio process: send on schedule, measure from the schedule.

Request i of a run is due at `start + i / rate`, whatever happened to earlier ones, so the
client holds as many requests in flight as the target makes it (up to `max_connections`
connections, one request each; past that, due requests wait in the client and the wait is
counted as an in-flight-cap late start). Latency runs from the intended send time
(coordinated-omission corrected, as wrk2 does); service time from the actual send.

This is the yardstick vbench is checked against, so it shares no code with vbench's load
generator: no Locust, no gevent. It records into vbench's HDR histograms and reports the
one latency type (`veltrix_bench.hdr`, `veltrix_bench.models.latency`).

Two senders behind one interface:
- `raw`: a minimal HTTP/1.1 client on `asyncio.Protocol` (pre-encoded requests, framing by
  Content-Length, keep-alive). Measured here to cost a few times less CPU per request
  than aiohttp's client, which matters when client and engine share two cores.
- `aiohttp`: `aiohttp.ClientSession` with `TCPConnector(limit=max_connections)`, a task per
  request. Kept for cross-checking the raw client's figures.

Run as a module (`python -m benchmarks._openloop canned`), it serves a canned 200 answer
from a bare asyncio server: the trivial target used to measure the client's own ceiling.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, NamedTuple, cast

import msgspec
import psutil
from hdrh.histogram import HdrHistogram

from benchmarks.harness import machine_busy_seconds, process_cpu_seconds
from veltrix_bench.hdr import HIGHEST_US, new_histogram, values_at_percentiles
from veltrix_bench.models.latency import Latency, latency_of

ClientKind = Literal["raw", "aiohttp"]
SEND_TICK_S = 0.001
GENERATOR_LATE_US = 5_000  # a send this much after its time, with a free connection, is late


class HttpRequest(NamedTuple):
    """A request other than a POST of a body to the run's path: e.g. a GET of a read."""

    method: str
    path: str
    body: bytes | None = None


def raise_open_file_limit(wanted: int = 20_000) -> int:
    """Raise the soft RLIMIT_NOFILE toward the hard limit (children inherit it).

    veltrix_bench has the same step in `load/generator.py`, but importing that module
    monkey-patches gevent, which the yardstick must not.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Second(msgspec.Struct, frozen=True, kw_only=True):
    """What completed during one second of the run (t = seconds since the schedule began)."""

    t: int
    scheduled: int
    ok: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    in_flight: int  # at the end of the second, including requests waiting for a connection
    client_cpu_pct: float
    target_cpu_pct: float | None
    machine_cpu_pct: float  # all cores, as % of one core (200 = both cores busy)
    probe: dict[str, float] = {}  # e.g. figures from /metrics


class OpenLoopResult(msgspec.Struct, frozen=True, kw_only=True):
    client: ClientKind
    offered_rate: float
    warmup_s: float
    duration_s: float
    scheduled: int  # requests due inside the measured window
    ok: int  # 200 answers that arrived inside the measured window
    achieved_rate: float  # ok / duration_s
    errors: dict[str, int]  # by HTTP status or exception name, whole run
    results: dict[str, int]  # result statuses seen in 200 answers, whole run
    outstanding_at_cutoff: int  # window requests still unanswered at the cut-off
    latency: Latency  # intended-time, window requests (outstanding ones at their age)
    service_time: Latency  # actual-send time, window requests answered
    latency_count: int = 0  # requests behind `latency` (0 in files written before it)
    service_count: int = 0  # requests behind `service_time`
    max_in_flight: int
    connections_opened: int
    late_generator: int  # sends the scheduler itself made > GENERATOR_LATE_US after their time
    late_in_flight_cap: int  # sends that waited for a connection (max_connections reached)
    max_generator_lag_ms: float
    client_cpu_pct: float  # over the measured window, % of one core
    target_cpu_pct: float | None
    machine_cpu_pct: float
    others_cpu_pct: float  # machine minus client minus target: other users of this machine
    seconds: list[Second]


class _Request:
    __slots__ = ("index", "intended", "sent", "payload")

    def __init__(self, index: int, intended: float, payload: bytes) -> None:
        self.index = index
        self.intended = intended
        self.sent = 0.0
        self.payload = payload


class _Recorder:
    """Tallies answers: whole-window histograms and one histogram per completion second."""

    def __init__(self, start: float, window_start: float, window_end: float) -> None:
        self.start = start
        self.window_start = window_start
        self.window_end = window_end
        self.latency = new_histogram()
        self.service = new_histogram()
        self.per_second: dict[int, HdrHistogram] = {}
        self.ok_per_second: Counter[int] = Counter()
        self.errors_per_second: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.results: Counter[str] = Counter()
        self.ok_in_window = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.outstanding: set[_Request] = set()

    def sent(self, request: _Request) -> None:
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight
        self.outstanding.add(request)

    def done(self, request: _Request, now: float, status: int | str, result: str | None) -> None:
        self.in_flight -= 1
        self.outstanding.discard(request)
        second = int(now - self.start)
        latency_us = max(1, int((now - request.intended) * 1e6))
        in_window = self.window_start <= request.intended < self.window_end
        if status == 200:
            if result is not None:
                self.results[result] += 1
            if self.window_start <= now < self.window_end:
                self.ok_in_window += 1
            self.ok_per_second[second] += 1
            histogram = self.per_second.get(second)
            if histogram is None:
                histogram = self.per_second[second] = new_histogram()
            histogram.record_value(min(latency_us, HIGHEST_US))
            if in_window:
                self.latency.record_value(min(latency_us, HIGHEST_US))
                service_us = max(1, int((now - request.sent) * 1e6))
                self.service.record_value(min(service_us, HIGHEST_US))
        else:
            self.errors[str(status)] += 1
            self.errors_per_second[second] += 1
            if in_window:  # a failed request counts in the tail as long as it took
                self.latency.record_value(min(latency_us, HIGHEST_US))

    def cut_off(self, now: float) -> int:
        """Record window requests still unanswered at their age now (a lower bound)."""
        left = 0
        for request in self.outstanding:
            if self.window_start <= request.intended < self.window_end:
                age_us = max(1, int((now - request.intended) * 1e6))
                self.latency.record_value(min(age_us, HIGHEST_US))
                left += 1
        return left


def _result_status(body: bytes) -> str | None:
    """The first result's status (and reason) in an engine answer, without a JSON parse."""
    at = body.find(b'"status": "')
    if at < 0:
        return None
    at += 11
    status = body[at : body.find(b'"', at)].decode()
    at = body.find(b'"reason": "', at)
    if at < 0:
        return status
    at += 11
    reason = body[at : body.find(b'"', at)].decode()
    return f"{status}: {reason}"


def _content_length(head: bytes) -> int:
    """The Content-Length of a lower-cased HTTP head (0 without one)."""
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    line_end = head.find(b"\r\n", at + 2)
    return int(head[at + 17 : line_end if line_end > 0 else None])


# -- raw sender ---------------------------------------------------------------------------------
class _Connection(asyncio.Protocol):
    def __init__(self, sender: _RawSender) -> None:
        self.sender = sender
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.request: _Request | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is not an asyncio.Transport subclass, but has its methods
        self.transport = cast(asyncio.Transport, transport)

    def start(self, request: _Request) -> None:
        assert self.transport is not None
        self.request = request
        request.sent = self.sender.clock()
        self.transport.write(request.payload)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buffer[:end]).lower()
        length = _content_length(head)
        if len(buffer) < end + 4 + length:
            return
        body = bytes(buffer[end + 4 : end + 4 + length])
        del buffer[: end + 4 + length]
        status = int(head[9:12])
        request, self.request = self.request, None
        if request is not None:
            self.sender.answered(self, request, status, body, b"connection: close" in head)

    def connection_lost(self, exc: Exception | None) -> None:
        request, self.request = self.request, None
        self.sender.lost(self, request, exc)


class _RawSender:
    MAX_OPENING = 256  # connects under way at once: a SYN burst past the backlog only fails

    def __init__(self, host: str, port: int, max_connections: int, recorder: _Recorder) -> None:
        self.loop = asyncio.get_running_loop()
        self.clock = self.loop.time
        self.host = host
        self.port = port
        self.max_connections = max_connections
        self.recorder = recorder
        self.idle: list[_Connection] = []
        self.waiting: deque[_Request] = deque()
        self.connections: set[_Connection] = set()
        self.opening = 0
        self.opened = 0
        self.connect_errors: Counter[str] = Counter()
        self.late_in_flight_cap = 0
        self.closed = False

    def prepare(self, path: str, request: bytes | HttpRequest) -> bytes:
        body: bytes | None
        if isinstance(request, HttpRequest):
            method, path, body = request
        else:
            method, body = "POST", request
        if body is None:
            return f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode()
        return (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    def send(self, request: _Request) -> None:
        self.recorder.sent(request)
        if self.idle:
            self.idle.pop().start(request)
            return
        if len(self.connections) + self.opening >= self.max_connections:
            self.late_in_flight_cap += 1
        self.waiting.append(request)
        self._grow()

    def _grow(self) -> None:
        while (
            len(self.waiting) > self.opening
            and self.opening < self.MAX_OPENING
            and len(self.connections) + self.opening < self.max_connections
            and not self.closed
        ):
            self.opening += 1
            self.loop.create_task(self._open())

    async def _open(self) -> None:
        try:
            _, connection = await self.loop.create_connection(
                lambda: _Connection(self), self.host, self.port
            )
        except OSError as exc:
            self.opening -= 1
            self.connect_errors[type(exc).__name__] += 1
            if self.waiting and not self.closed:  # the request it was for fails
                self.recorder.done(self.waiting.popleft(), self.clock(), type(exc).__name__, None)
            self._grow()
            return
        self.opening -= 1
        self.opened += 1
        self.connections.add(connection)
        self._release(connection)

    def _release(self, connection: _Connection) -> None:
        if self.waiting and not self.closed:
            connection.start(self.waiting.popleft())
        else:
            self.idle.append(connection)

    def answered(
        self, connection: _Connection, request: _Request, status: int, body: bytes, close: bool
    ) -> None:
        self.recorder.done(request, self.clock(), status, _result_status(body))
        if close:
            assert connection.transport is not None
            connection.transport.close()
            return
        self._release(connection)

    def lost(
        self, connection: _Connection, request: _Request | None, exc: Exception | None
    ) -> None:
        self.connections.discard(connection)
        with contextlib.suppress(ValueError):
            self.idle.remove(connection)
        if self.closed:
            return
        if request is not None:
            name = type(exc).__name__ if exc else "ConnectionClosed"
            self.recorder.done(request, self.clock(), name, None)
        self._grow()

    async def close(self) -> None:
        self.closed = True
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        await asyncio.sleep(0)


# -- aiohttp sender -----------------------------------------------------------------------------
class _AiohttpSender:
    def __init__(self, host: str, port: int, max_connections: int, recorder: _Recorder) -> None:
        import aiohttp

        self.loop = asyncio.get_running_loop()
        self.clock = self.loop.time
        self.recorder = recorder
        self.connector = aiohttp.TCPConnector(limit=max_connections, force_close=False)
        self.session = aiohttp.ClientSession(
            connector=self.connector,
            timeout=aiohttp.ClientTimeout(total=None),
            skip_auto_headers=("User-Agent",),
        )
        self.url_base = f"http://{host}:{port}"
        self.headers = {"Content-Type": "application/json"}
        self.tasks: set[asyncio.Task[None]] = set()
        self.late_in_flight_cap = 0
        self.opened = 0
        self.path = "/"

    def prepare(self, path: str, body: bytes | HttpRequest) -> bytes:
        if isinstance(body, HttpRequest):
            raise ValueError("the aiohttp client sends POST bodies only; use the raw client")
        self.path = path
        return body

    def send(self, request: _Request) -> None:
        self.recorder.sent(request)
        task = self.loop.create_task(self._post(request))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _post(self, request: _Request) -> None:
        request.sent = self.clock()
        try:
            async with self.session.post(
                self.url_base + self.path, data=request.payload, headers=self.headers
            ) as response:
                body = await response.read()
                status = response.status
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is a counted outcome
            self.recorder.done(request, self.clock(), type(exc).__name__, None)
            return
        self.recorder.done(request, self.clock(), status, _result_status(body))

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.opened = len(self.connector._conns) if hasattr(self.connector, "_conns") else 0
        await self.session.close()


# -- the run ------------------------------------------------------------------------------------
Probe = Callable[[], Awaitable[dict[str, float]]]


def _figures_ms(histogram: HdrHistogram | None) -> tuple[float, float, float]:
    """(p50, p99, max) of one second's answers in ms, zeros for a second without any."""
    if histogram is None or histogram.get_total_count() == 0:
        return 0.0, 0.0, 0.0
    p50, p99 = values_at_percentiles(histogram, (50, 99))
    return p50 / 1000, p99 / 1000, histogram.get_max_value() / 1000


class _CpuWindow:
    """CPU seconds of the client, the target and the machine, per second and over the window."""

    def __init__(self, target: psutil.Process | None) -> None:
        self.me = psutil.Process()
        self.target = target
        self.wall = time.monotonic()
        self.client = process_cpu_seconds(self.me)
        self.target_s = process_cpu_seconds(target)
        self.machine = machine_busy_seconds()
        self.totals = {"wall": 0.0, "client": 0.0, "target": 0.0, "machine": 0.0}

    def tick(self) -> tuple[float, float, float | None, float]:
        """(elapsed, client, target, machine) seconds since the last tick."""
        wall, client = time.monotonic(), process_cpu_seconds(self.me)
        target, machine = process_cpu_seconds(self.target), machine_busy_seconds()
        elapsed = max(1e-3, wall - self.wall)
        used_client = (client or 0) - (self.client or 0)
        used_target = (
            target - self.target_s if target is not None and self.target_s is not None else None
        )
        used_machine = machine - self.machine
        self.wall, self.client, self.target_s, self.machine = wall, client, target, machine
        return elapsed, used_client, used_target, used_machine

    def count(self, elapsed: float, client: float, target: float | None, machine: float) -> None:
        self.totals["wall"] += elapsed
        self.totals["client"] += client
        self.totals["target"] += target or 0.0
        self.totals["machine"] += machine

    def share(self, key: str) -> float:
        wall = self.totals["wall"]
        return round(100 * self.totals[key] / wall, 1) if wall else 0.0


class _OpenLoop:
    """One run: the send schedule, the once-a-second sampler, and the result."""

    def __init__(
        self,
        sender: _RawSender | _AiohttpSender,
        recorder: _Recorder,
        payloads: list[bytes],
        rate: float,
        probe: Probe | None,
        target: psutil.Process | None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.sender = sender
        self.recorder = recorder
        self.payloads = payloads
        self.total = len(payloads)
        self.rate = rate
        self.start = recorder.start
        self.probe = probe
        self.cpu = _CpuWindow(target)
        self.seconds: list[Second] = []
        self.max_lag_s = 0.0
        self.late_generator = 0

    async def schedule(self) -> None:
        loop, start, rate, total = self.loop, self.start, self.rate, self.total
        index = 0
        while index < total:
            now = loop.time()
            due = min(total, int((now - start) * rate) + 1) if now >= start else 0
            while index < due:
                intended = start + index / rate
                behind = now - intended
                self.max_lag_s = max(self.max_lag_s, behind)
                if behind * 1e6 > GENERATOR_LATE_US:
                    self.late_generator += 1
                self.sender.send(_Request(index, intended, self.payloads[index]))
                index += 1
            # at least a millisecond: at thousands of requests/s, waking per request costs
            # the client more CPU than sending a millisecond's worth together (measured:
            # 41% -> 24% of a core at 4,000/s), and on uvloop, whose timers have millisecond
            # resolution, a shorter sleep returns at once and the loop spins. Each request
            # is still measured from its own intended time, so the up to ~1 ms it waits
            # counts in its latency.
            await asyncio.sleep(max(SEND_TICK_S, start + index / rate - loop.time()))

    async def sample_seconds(self, stop: asyncio.Event) -> None:
        tick = self.start
        second = 0
        while not stop.is_set():
            tick += 1.0
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, tick - self.loop.time()))
            if stop.is_set():
                break
            used = self.cpu.tick()
            figures = await self._probe()
            self.seconds.append(self._second(second, used, figures))
            if self.recorder.window_start < tick <= self.recorder.window_end + 1e-6:
                self.cpu.count(*used)
            second += 1

    async def _probe(self) -> dict[str, float]:
        if self.probe is None:
            return {}
        try:
            return await asyncio.wait_for(self.probe(), 0.9)
        except Exception as exc:  # noqa: BLE001 - a failed poll is a gap, not a crash
            print(f"  probe failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return {"probe_failed": 1.0}

    def _second(
        self, second: int, used: tuple[float, float, float | None, float], probe: dict[str, float]
    ) -> Second:
        elapsed, client, target, machine = used
        recorder, rate = self.recorder, self.rate
        p50, p99, top = _figures_ms(recorder.per_second.get(second))
        return Second(
            t=second + 1,
            scheduled=max(0, min(self.total, int(rate * (second + 1))) - int(rate * second)),
            ok=recorder.ok_per_second[second],
            errors=recorder.errors_per_second[second],
            p50_ms=p50,
            p99_ms=p99,
            max_ms=top,
            in_flight=recorder.in_flight,
            client_cpu_pct=round(100 * client / elapsed, 1),
            target_cpu_pct=round(100 * target / elapsed, 1) if target is not None else None,
            machine_cpu_pct=round(100 * machine / elapsed, 1),
            probe=probe,
        )

    async def until_answered(self, grace_s: float) -> int:
        """Wait out the window and the grace for its answers; the count still unanswered."""
        recorder = self.recorder
        await asyncio.sleep(max(0.0, recorder.window_end - self.loop.time()))
        cutoff = recorder.window_end + grace_s
        while recorder.outstanding and self.loop.time() < cutoff:
            if not any(
                recorder.window_start <= r.intended < recorder.window_end
                for r in recorder.outstanding
            ):
                break
            await asyncio.sleep(0.05)
        return recorder.cut_off(self.loop.time())


async def run_open_loop(
    host: str,
    port: int,
    path: str,
    bodies: Sequence[bytes | HttpRequest],
    rate: float,
    warmup_s: float,
    duration_s: float,
    *,
    grace_s: float = 2.0,
    client: ClientKind = "raw",
    max_connections: int = 15_000,
    target_pid: int | None = None,
    probe: Probe | None = None,
) -> OpenLoopResult:
    """Send `bodies[i]` at `start + i / rate` for warmup_s + duration_s; needs that many bodies.

    A body is POSTed to `path`; an `HttpRequest` says its own method and path.

    `probe` (e.g. a /metrics poll) is awaited once a second; its figures join that second.
    After the window, unanswered window requests get `grace_s` to answer, then count at
    their age as a lower bound (`outstanding_at_cutoff`).
    """
    total = int(rate * (warmup_s + duration_s))
    if len(bodies) < total:
        raise ValueError(f"{total} requests due, only {len(bodies)} bodies given")
    start = asyncio.get_running_loop().time() + 0.2
    recorder = _Recorder(start, start + warmup_s, start + warmup_s + duration_s)
    sender: _RawSender | _AiohttpSender
    if client == "raw":
        sender = _RawSender(host, port, max_connections, recorder)
    else:
        sender = _AiohttpSender(host, port, max_connections, recorder)
    payloads = [sender.prepare(path, body) for body in bodies[:total]]
    target = psutil.Process(target_pid) if target_pid else None
    run = _OpenLoop(sender, recorder, payloads, rate, probe, target)

    stop_sampling = asyncio.Event()
    sampler = asyncio.get_running_loop().create_task(run.sample_seconds(stop_sampling))
    await run.schedule()
    outstanding = await run.until_answered(grace_s)
    stop_sampling.set()
    await sampler
    await sender.close()

    cpu = run.cpu
    return OpenLoopResult(
        client=client,
        offered_rate=rate,
        warmup_s=warmup_s,
        duration_s=duration_s,
        scheduled=int(rate * (warmup_s + duration_s)) - int(rate * warmup_s),
        ok=recorder.ok_in_window,
        achieved_rate=round(recorder.ok_in_window / duration_s, 1),
        errors=dict(recorder.errors),
        results=dict(recorder.results),
        outstanding_at_cutoff=outstanding,
        latency=latency_of(recorder.latency),
        service_time=latency_of(recorder.service),
        latency_count=recorder.latency.get_total_count(),
        service_count=recorder.service.get_total_count(),
        max_in_flight=recorder.max_in_flight,
        connections_opened=sender.opened,
        late_generator=run.late_generator,
        late_in_flight_cap=sender.late_in_flight_cap,
        max_generator_lag_ms=round(run.max_lag_s * 1000, 1),
        client_cpu_pct=cpu.share("client"),
        target_cpu_pct=cpu.share("target") if target is not None else None,
        machine_cpu_pct=cpu.share("machine"),
        others_cpu_pct=round(cpu.share("machine") - cpu.share("client") - cpu.share("target"), 1),
        seconds=run.seconds,
    )


# -- the trivial target -------------------------------------------------------------------------
_CANNED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 47\r\n\r\n"
    b'{"results": [{"id": "x", "status": "applied"}]}'
)


class _CannedServer(asyncio.Protocol):
    """Answers every request with the same 200; frames requests by Content-Length."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is not an asyncio.Transport subclass, but has its methods
        self.transport = cast(asyncio.Transport, transport)
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = _content_length(bytes(buffer[:end]).lower())
            if len(buffer) < end + 4 + length:
                return
            del buffer[: end + 4 + length]
            self.transport.write(_CANNED)


async def serve_canned(host: str = "127.0.0.1", port: int = 0) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_CannedServer, host, port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    print(f"VELTRIX READY port={bound} pid={os.getpid()}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    if sys.argv[1:2] != ["canned"]:
        sys.exit("usage: python -m benchmarks._openloop canned")
    raise_open_file_limit()
    asyncio.run(serve_canned())
