"""A bounded HTTP client for conformance checks: every request counted against a budget of
requests and time, every answer kept whole so it can be checked against the contract.

aiohttp's client on asyncio (not gevent): it runs in the CLI process, and it can hold a
few hundred requests truly in flight at once, which the concurrent-claims check needs.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from functools import cached_property
from types import TracebackType
from typing import Any

import aiohttp

from veltrix_bench.contract.openapi import answer_problems

_SETUP_RETRIES = 10  # 429s a setup request sits out before it counts as unanswered
_LONGEST_RETRY_WAIT_S = 1.0  # a Retry-After longer than this is waited only this long
# The contract's largest answers (the document, /metrics) take a few kB, a target's own
# /metrics a few hundred at most. An answer past this is cut off and counts as none: hundreds
# of answers may be read at once, and no target may fill vbench's memory with them.
MAX_ANSWER_BYTES = 2 * 1024 * 1024


class BudgetSpent(Exception):
    """The checks' request or time budget ran out."""


class Unanswered(Exception):
    """A request got no HTTP answer (refused, reset, timed out)."""


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @cached_property
    def problems(self) -> list[str]:
        """What in this answer the contract does not allow."""
        return answer_problems(self.method, self.path, self.status, self.headers, self.body)

    def json(self) -> Any:
        """The decoded body; None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth
            return None

    def field(self) -> str | None:
        """The `field` an error answer names, if any."""
        document = self.json()
        field = document.get("field") if isinstance(document, dict) else None
        return field if isinstance(field, str) else None

    def results(self) -> list[dict[str, Any]]:
        """The results of a conforming 200 answer to POST /v1/events."""
        if self.status != 200 or self.problems:
            return []
        results: list[dict[str, Any]] = self.json()["results"]
        return results


class Probe:
    """One aiohttp session to one target, with a budget of requests and seconds."""

    def __init__(
        self,
        base_url: str,
        *,
        max_requests: int,
        max_seconds: float,
        request_timeout_s: float,
        connections: int,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_requests = max_requests
        self.deadline = time.monotonic() + max_seconds
        self.requests = 0
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Probe:
        connector = aiohttp.TCPConnector(limit=self._connections, force_close=False)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, auto_decompress=True
        )
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(
        self, method: str, path: str, *, body: Any = None, raw: bytes | None = None
    ) -> Answer:
        """One request; `body` is sent as JSON, `raw` as it is (with a JSON content type)."""
        if self.requests >= self.max_requests:
            raise BudgetSpent(f"the budget of {self.max_requests} requests ran out")
        if time.monotonic() >= self.deadline:
            raise BudgetSpent("the time limit ran out")
        assert self._session is not None, "use Probe as an async context manager"
        self.requests += 1
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            # A redirect is checked as the answer it is, never followed: it could lead the
            # checks' traffic away from the target that the loopback guard let through.
            async with self._session.request(
                method, self.base_url + path, data=data, headers=headers, allow_redirects=False
            ) as response:
                payload = await _read_bounded(response)
                if payload is None:
                    raise Unanswered(
                        f"{method} {path}: the answer is over {MAX_ANSWER_BYTES} bytes, "
                        "far more than any answer of the contract"
                    )
                answer_headers = {name.lower(): value for name, value in response.headers.items()}
                return Answer(method, path, response.status, answer_headers, payload)
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise Unanswered(f"{method} {path} got no answer: {reason}") from None

    async def post_events(self, events: Any, *, retry_when_full: bool = True) -> Answer:
        """POST /v1/events; a 429 is sat out (Retry-After, at most a second) and retried with
        the same ids, up to a few times, unless `retry_when_full` is false."""
        for _ in range(_SETUP_RETRIES if retry_when_full else 1):
            answer = await self.call("POST", "/v1/events", body=events)
            if answer.status != 429 or not retry_when_full:
                return answer
            await asyncio.sleep(_retry_wait(answer))
        return answer


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes | None:
    """The body of `response`; None, with the connection closed, once it passes
    MAX_ANSWER_BYTES (or says it will)."""
    if (response.content_length or 0) > MAX_ANSWER_BYTES:
        response.close()
        return None
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            response.close()
            return None
    return bytes(body)


def _retry_wait(answer: Answer) -> float:
    try:
        wait = float(answer.headers.get("retry-after", "1"))
    except ValueError:
        wait = 1.0
    return max(0.05, min(wait, _LONGEST_RETRY_WAIT_S))
