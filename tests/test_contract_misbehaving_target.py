"""The conformance checks against a target that misbehaves at the HTTP level: whatever it
sends, the checks end in verdicts (or one RunFailed), bounded, and send nothing elsewhere."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from veltrix_bench.contract.conformance import Limits, Verdict, check_target
from veltrix_bench.contract.probe import MAX_ANSWER_BYTES

# What the target answers a request for `path`: the whole answer's bytes, or its parts.
Answerer = Callable[[str], bytes | AsyncIterator[bytes]]
QUICK = Limits(request_timeout_s=10.0, max_seconds=60.0)


def answer(status: str, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", "Content-Type: application/json", *headers]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


HEALTHY = answer("200 OK", b'{"status": "ok"}')
NOT_FOUND = answer("404 Not Found", b'{"error": "no such route"}')


class RawTarget:
    """A loopback HTTP/1.1 server on asyncio streams that answers each request as told, and
    notes every path it was asked for."""

    def __init__(self, answerer: Answerer) -> None:
        self.answerer = answerer
        self.paths: list[str] = []
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RawTarget:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                path = head[0].split(" ")[1]
                self.paths.append(path)
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        await reader.readexactly(int(value))
                reply = self.answerer(path)
                if isinstance(reply, bytes):
                    writer.write(reply)
                    await writer.drain()
                    continue
                async for part in reply:
                    writer.write(part)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        except asyncio.CancelledError:
            pass  # the server is stopping: end without asyncio's note on a cancelled handler
        finally:
            writer.close()


@pytest.fixture
def raw_target() -> Iterator[Callable[[Answerer], RawTarget]]:
    targets: list[RawTarget] = []

    def start(answerer: Answerer) -> RawTarget:
        target = RawTarget(answerer)
        targets.append(target.__enter__())
        return target

    yield start
    for target in targets:
        target.__exit__()


def _verdict(checks: Any, name: str) -> tuple[Verdict, str]:
    check = next(check for check in checks if check.name == name)
    return check.verdict, check.detail


def test_json_nested_deeper_than_the_parser_goes_fails_the_checks_without_a_traceback(
    raw_target: Callable[[Answerer], RawTarget],
) -> None:
    deep = answer("200 OK", b"[" * 100_000 + b"]" * 100_000)
    target = raw_target(lambda path: deep)
    result = check_target(target.url, QUICK)
    verdict, detail = _verdict(result.checks, "healthz")
    assert verdict == Verdict.FAIL and "not application/json" in detail
    assert not result.passed


def test_a_redirect_is_not_followed_so_no_request_leaves_the_target(
    raw_target: Callable[[Answerer], RawTarget],
) -> None:
    elsewhere = raw_target(lambda path: HEALTHY)  # stands for a host the guard would refuse
    moved = [f"Location: {elsewhere.url}/healthz"]
    target = raw_target(lambda path: answer("307 Temporary Redirect", b"", *moved))
    result = check_target(target.url, QUICK)
    assert elsewhere.paths == []
    verdict, detail = _verdict(result.checks, "healthz")
    assert verdict == Verdict.FAIL and "answered 307" in detail


def test_an_endless_answer_is_cut_at_the_size_limit_and_fails_its_check(
    raw_target: Callable[[Answerer], RawTarget],
) -> None:
    async def endless() -> AsyncIterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        yield b"Transfer-Encoding: chunked\r\n\r\n"
        chunk = b" " * 65536
        while True:  # ~6 MB/s: past the limit in well under a second
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
            await asyncio.sleep(0.01)

    target = raw_target(lambda path: HEALTHY if path == "/healthz" else endless())
    started = time.monotonic()
    result = check_target(target.url, QUICK)
    verdict, detail = _verdict(result.checks, "hunt")
    assert verdict == Verdict.FAIL and f"over {MAX_ANSWER_BYTES} bytes" in detail
    assert time.monotonic() - started < QUICK.request_timeout_s  # cut, not timed out


def test_a_served_document_whose_info_is_not_an_object_fails_the_openapi_check(
    raw_target: Callable[[Answerer], RawTarget],
) -> None:
    odd = json.dumps({"openapi": "3.1.0", "info": "v1", "paths": {}}).encode()
    routes = {"/healthz": HEALTHY, "/openapi.json": answer("200 OK", odd)}
    target = raw_target(lambda path: routes.get(path, NOT_FOUND))
    result = check_target(target.url, QUICK)
    verdict, detail = _verdict(result.checks, "openapi")
    assert verdict == Verdict.FAIL and "info" in detail
