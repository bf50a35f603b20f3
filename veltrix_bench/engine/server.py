"""The engine's HTTP service on aiohttp: routes, start-up line, faults, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from veltrix_bench.contract.openapi import document_bytes
from veltrix_bench.engine.config import EngineConfig
from veltrix_bench.engine.events import DECODERS, Event, EventError
from veltrix_bench.engine.game import Game, Result
from veltrix_bench.engine.metrics import EngineMetrics
from veltrix_bench.engine.pipeline import (
    NOT_APPLIED,
    SHUTTING_DOWN,
    Pipeline,
    QueueFull,
    ShuttingDown,
    TooManyEvents,
)
from veltrix_bench.engine.storage import Store
from veltrix_bench.engine.world import World
from veltrix_bench.errors import UsageError
from veltrix_bench.quietgc import QuietCollector

log = logging.getLogger("veltrix.server")

_quote = json.encoder.encode_basestring_ascii  # a JSON string literal, in C

# The functions that make up the event handler, named in one place so that a CPU profile
# can tell how much of the process's time handling events takes.
HANDLER_FUNCTIONS = (
    "veltrix_bench/engine/server.py:post_events",
    "veltrix_bench/engine/server.py:_read_events",
    "veltrix_bench/engine/server.py:_post_events",
    "veltrix_bench/engine/server.py:_results_json",
    "veltrix_bench/engine/server.py:_not_applied",
    "veltrix_bench/engine/server.py:_result_tail",
    "veltrix_bench/engine/pipeline.py",
    "veltrix_bench/engine/idempotency.py",
    "veltrix_bench/engine/events.py",
    "veltrix_bench/engine/game.py:apply",
    "veltrix_bench/engine/game.py:_apply_one",
    "veltrix_bench/engine/game.py:_unchanged",
    "veltrix_bench/engine/game.py:_check_answer",
    "veltrix_bench/engine/game.py:_add_member",
    "veltrix_bench/engine/game.py:row",
    "veltrix_bench/engine/storage.py",
)

_JSON = "application/json"
# At shutdown, after the drain: how long aiohttp lets a request still being read or answered
# finish before cancelling it (it may wait twice that: before and after the cancel).
_CLOSE_TIMEOUT_S = 0.5


def _error(status: int, field: str | None, message: str, **headers: str) -> web.Response:
    body = json.dumps({"error": message, "field": field} if field else {"error": message})
    return web.Response(status=status, text=body, content_type=_JSON, headers=headers)


class BadRequest(Exception):
    """A request the engine will not take as sent: its 4xx status, the field, and why."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(f"{status} {field}: {message}")
        self.status = status
        self.field = field
        self.message = message


@functools.cache
def _result_tail(result: Result) -> str:
    """The constant part of a result's JSON: statuses and reasons come from a fixed set."""
    status, reason = result
    if reason is None:
        return f', "status": "{status}"}}'
    return f', "status": "{status}", "reason": {json.dumps(reason)}}}'


def _results_json(events: list[Event], results: list[Result], error: str | None = None) -> str:
    """The answer's body, assembled from cached pieces rather than a dict per event."""
    head = '{"results": [' if error is None else f'{{"error": {json.dumps(error)}, "results": ['
    if len(events) == 1:
        return f'{head}{{"id": {_quote(events[0].id)}{_result_tail(results[0])}]}}'
    parts = [
        f'{{"id": {_quote(e.id)}{_result_tail(r)}' for e, r in zip(events, results, strict=True)
    ]
    return head + ", ".join(parts) + "]}"


def _not_applied(results: list[Result]) -> tuple[int, str] | None:
    """(5xx status, error) when some events were not applied: 500 if a commit failed, 503 if
    the engine stopped first; None when every event has its result."""
    if len(results) == 1:
        if results[0][0] != NOT_APPLIED:
            return None
        missed = [results[0]]
    else:
        missed = [r for r in results if r[0] == NOT_APPLIED]
        if not missed:
            return None
    # a failure of the engine's own outranks a shutdown: the client should know it was a 5xx
    reason = next((r[1] for r in missed if r[1] != SHUTTING_DOWN), SHUTTING_DOWN)
    status = 503 if reason == SHUTTING_DOWN else 500
    return status, f"{reason}: {len(missed)} of {len(results)} events not applied"


def busy_wait(seconds: float) -> None:
    """Fault: spend this long on the CPU, holding the event loop (faults.event_cpu_ms)."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass


class Engine:
    """Everything one engine process holds; the routes are its methods."""

    def __init__(self, config: EngineConfig, db_path: Path) -> None:
        self.config = config
        self.world = World.generate(config.world)
        self.game = Game(self.world)
        store = Store(config.storage, db_path, config.faults.commit_fail_prefix)
        members, claims, results = store.load(config.storage.recent_results)
        self.game.restore(members, claims)
        self.metrics = EngineMetrics(lambda: self.pipeline.depth)
        self.pipeline = Pipeline(config, self.game, store, self.metrics)
        for event_id, result in results:
            self.pipeline.recent.add(event_id, result)
        self._hunts_json = [json.dumps(h.describe()) for h in self.world.hunts]
        self._decode = DECODERS[config.http.decoder]
        self.stopping = False  # set on SIGINT/SIGTERM: new requests get 503
        self.requests_in_flight = 0
        self.delay_s = config.faults.event_delay_ms / 1000
        self.cpu_s = config.faults.event_cpu_ms / 1000

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.http.max_body_bytes)
        app.add_routes(
            [
                web.post("/v1/events", self.post_events),
                web.get("/v1/hunts/{hunt}", self.get_hunt),
                web.get("/v1/hunts/{hunt}/leaderboard", self.get_leaderboard),
                web.get("/v1/players/{player}", self.get_player),
                web.get("/healthz", self.healthz),
                web.get("/metrics", self.get_metrics),
                web.get("/v1/stats", self.get_stats),
                web.get("/openapi.json", self.get_contract),
            ]
        )
        return app

    async def post_events(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        if self.stopping:
            return _error(503, None, "engine is shutting down", **{"Retry-After": "1"})
        try:
            events = await self._read_events(request)
        except BadRequest as exc:
            self.metrics.bad_requests[str(exc.status)] += 1
            response = _error(exc.status, exc.field, exc.message)
            if exc.status == 408:  # the rest of the body may still come: not on this connection
                response.force_close()
            return response
        if self.stopping:  # the body arrived after the shutdown began: not accepted
            return _error(503, None, "engine is shutting down", **{"Retry-After": "1"})
        self.requests_in_flight += 1
        try:
            return await self._post_events(events, started)
        finally:
            self.requests_in_flight -= 1

    async def _read_events(self, request: web.Request) -> list[Event]:
        """The events of a POST; BadRequest saying what is wrong with anything else. The one
        place where a malformed request becomes its 4xx answer."""
        encoding = request.headers.get("Content-Encoding", "identity")
        if encoding.strip().lower() != "identity":
            raise BadRequest(
                415, "Content-Encoding", f"{encoding!r} is not taken: send the body uncompressed"
            )
        try:
            if request.content.is_eof():  # the usual small body came with the head
                body = await request.read()
            else:
                async with asyncio.timeout(self.config.http.body_timeout_s):
                    body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            limit = self.config.http.max_body_bytes
            raise BadRequest(413, "body", f"over the limit of {limit} bytes") from None
        except ConnectionError:  # the client went away mid-body: nobody to answer, no traceback
            raise BadRequest(
                400, "body", "the connection closed before the body was complete"
            ) from None
        except TimeoutError:
            timeout = self.config.http.body_timeout_s
            raise BadRequest(
                408, "body", f"not all sent within {timeout:g} s (http.body_timeout_s)"
            ) from None
        try:
            return self._decode(body, self.config.world)
        except EventError as exc:
            raise BadRequest(400, exc.field, exc.message) from None

    async def _post_events(self, events: list[Event], started: float) -> web.Response:
        if self.delay_s:  # a timer: the loop serves other requests meanwhile
            await asyncio.sleep(self.delay_s)
        if self.cpu_s:
            busy_wait(self.cpu_s)
        try:
            results, fresh = await self.pipeline.submit(events)
        except QueueFull:
            retry = str(self.config.queue.retry_after_s)
            return _error(429, None, "event queue is full", **{"Retry-After": retry})
        except TooManyEvents as exc:
            self.metrics.bad_requests["413"] += 1
            return _error(413, "body", str(exc))
        except ShuttingDown:
            return _error(503, None, "engine is shutting down", **{"Retry-After": "1"})
        self.pipeline.count_acknowledged(events, fresh)
        missed = _not_applied(results)
        if missed is not None:
            # Some or all events were not applied; the others' results are committed. Every
            # id answers the same when sent again, so the client may retry the whole request.
            status, error = missed
            headers = {"Retry-After": "1"} if status == 503 else {}
            body = _results_json(events, results, error)
            return web.Response(status=status, text=body, content_type=_JSON, headers=headers)
        body_out = _results_json(events, results)
        self.metrics.request_latency.observe(time.perf_counter() - started)
        return web.Response(text=body_out, content_type=_JSON)

    def _path_id(self, request: web.Request, name: str, upper: int) -> int:
        text = request.match_info[name]
        # digits only: int() would also read " 1", "1_0" (10) and non-ASCII digits
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": f"{name} must be an integer", "field": name}),
                content_type=_JSON,
            )
        value = int(text)
        if not 1 <= value <= upper:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"no {name} {value} (1..{upper})", "field": name}),
                content_type=_JSON,
            )
        return value

    async def get_hunt(self, request: web.Request) -> web.Response:
        hunt = self._path_id(request, "hunt", self.config.world.hunts)
        return web.Response(text=self._hunts_json[hunt - 1], content_type=_JSON)

    async def get_leaderboard(self, request: web.Request) -> web.Response:
        hunt = self._path_id(request, "hunt", self.config.world.hunts)
        return web.json_response({"hunt": hunt, "leaders": self.game.leaderboard(hunt)})

    async def get_player(self, request: web.Request) -> web.Response:
        player = self._path_id(request, "player", self.config.world.players)
        return web.json_response({"player": player, "hunts": self.game.player(player)})

    async def healthz(self, request: web.Request) -> web.Response:
        if self.stopping:
            return _error(503, None, "engine is shutting down")
        return web.json_response({"status": "ok"})

    async def get_metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.exposition(), content_type="text/plain", charset="utf-8"
        )

    async def get_contract(self, request: web.Request) -> web.Response:
        return web.Response(body=document_bytes(), content_type=_JSON)

    async def get_stats(self, request: web.Request) -> web.Response:
        persisted = await self.pipeline.persisted_by_type()
        return web.json_response(
            {
                "acknowledged": {k: n for k, n in self.pipeline.acknowledged.items() if n},
                "persisted": persisted,
                "duplicates": self.pipeline.duplicates,
                "treasures_won": len(self.game.winners),
                "queue_depth": self.pipeline.depth,
                "requests_in_flight": self.requests_in_flight,
                "players_joined": len(self.game.members),
            }
        )


def _stall_periodically(loop: asyncio.AbstractEventLoop, stall_s: float, every_s: float) -> None:
    """Fault: block the whole process for `stall_s`, starting every `every_s` (like a long GC
    pause). Stalls start on a fixed cadence, so the stalled share of time is stall_s/every_s."""

    def stall(due: float) -> None:
        began = time.perf_counter()
        time.sleep(stall_s)
        log.info("fault: stalled the process for %.1f ms", (time.perf_counter() - began) * 1000)
        loop.call_at(due + every_s, stall, due + every_s)

    first = loop.time() + every_s
    loop.call_at(first, stall, first)


def _keep_collector_quiet(
    loop: asyncio.AbstractEventLoop, gen0_threshold: int, full_every_s: float
) -> None:
    """Runtime knob gc = "quiet": freeze the start-up heap (world, restored game state) now,
    then collect the young generations once a second and everything every `full_every_s`
    (see veltrix_bench/quietgc.py)."""
    collector = QuietCollector(gen0_threshold, young_on_check=True, full_every_s=full_every_s)
    collector.quiet()

    def check() -> None:
        try:
            collector.check()
        finally:
            loop.call_later(1.0, check)

    loop.call_later(1.0, check)


async def serve(config: EngineConfig, host: str, port: int, db_path: Path) -> int:
    """Run the engine until SIGINT/SIGTERM; returns the process exit code."""
    engine = Engine(config, db_path)
    runner = web.AppRunner(
        engine.app(),
        access_log=None,
        handle_signals=False,
        # aiohttp closes a connection that has not delivered a whole request head this long
        # after it opened or after its last answer (its keep-alive timer runs until then)
        keepalive_timeout=config.http.header_timeout_s,
        auto_decompress=False,  # bodies are taken as sent; Content-Encoding is refused (415)
        shutdown_timeout=_CLOSE_TIMEOUT_S,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096)
    try:
        await site.start()
    except OSError as exc:
        print(f"vbench engine: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        await runner.cleanup()
        return 2
    engine.pipeline.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    engine.pipeline.on_failure = stop.set
    if config.runtime.gc == "quiet":
        _keep_collector_quiet(loop, config.runtime.gen0_threshold, config.runtime.full_every_s)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    faults = config.faults
    if faults.stall_ms and faults.stall_every_s:
        _stall_periodically(loop, faults.stall_ms / 1000, faults.stall_every_s)
    bound = runner.addresses[0][1]
    print(f"VELTRIX READY port={bound} pid={os.getpid()}", flush=True)
    log.info("config %s, database %s", config.name, db_path)
    await stop.wait()
    log.info("stopping: no new requests; finishing those in flight")
    engine.stopping = True
    deadline = loop.time() + config.shutdown.drain_timeout_s
    while engine.requests_in_flight and loop.time() < deadline:
        await asyncio.sleep(0.01)
    failed = await engine.pipeline.drain(max(0.0, deadline - loop.time()))
    if failed:
        log.warning("%d queued events were not applied (answered 503)", failed)
    with contextlib.suppress(Exception):
        await runner.cleanup()
    engine.pipeline.close()
    if engine.pipeline.failure is not None:
        log.error("stopped after a failure; the database holds every acknowledged event")
        return 1
    log.info("stopped cleanly")
    return 0


HIGHEST_PORT = 65_535


def run_engine(config: EngineConfig, host: str, port: int, db: Path | None) -> int:
    if not 0 <= port <= HIGHEST_PORT:  # before the database is opened: a bad port leaves nothing
        raise UsageError(f"--port {port}: a port is a number from 0 (any free one) to 65535")
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    db_path = db if db is not None else Path(config.storage.path)
    with asyncio.Runner(loop_factory=_loop_factory(config.http.event_loop)) as runner:
        return runner.run(serve(config, host, port, db_path))


def _loop_factory(event_loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if event_loop == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None  # asyncio's own
