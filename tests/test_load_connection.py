"""The players' lean HTTP/1.1 client against a scripted server: framing, keep-alive, reconnects."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import python_output

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class ScriptedServer:
    """Answers the n-th request on each connection with that connection's n-th script entry:
    a list of byte chunks (sent apart, with a pause), "close" (close without answering) or
    "drop" (close before a request came: an idle connection timed out)."""

    def __init__(self, connections: list[list[list[bytes] | str]]) -> None:
        self.connections = connections
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for script in self.connections:
            conn, _ = self.listener.accept()
            with conn:
                for answer in script:
                    if answer == "drop":
                        break
                    request = self._read_request(conn)
                    if request is None:
                        break
                    self.requests.append(request)
                    if answer == "close":
                        break
                    for chunk in answer:
                        conn.sendall(chunk)
                        time.sleep(0.02)

    @staticmethod
    def _read_request(conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            more = conn.recv(65536)
            if not more:
                return None
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                while len(body) < int(line.split(b":")[1]):
                    body += conn.recv(65536)
        return head + b"\r\n\r\n" + body

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def scripted() -> Iterator[type[ScriptedServer]]:
    servers: list[ScriptedServer] = []

    class Started(ScriptedServer):
        def __init__(self, connections: list[list[list[bytes] | str]]) -> None:
            super().__init__(connections)
            servers.append(self)

    yield Started
    for server in servers:
        server.close()


def exchanges(
    port: int,
    count: int,
    request: bytes = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    warmed_up: bool = False,
) -> list:
    """(status, body) of `count` requests on one Connection, or the error's type name;
    `warmed_up`: the connection is opened first and left idle a moment, as a user's is."""
    code = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import json, time\n"
        "from veltrix_bench.load.connection import Connection\n"
        f"connection = Connection('127.0.0.1', {port})\n"
        + ("connection.connect()\ntime.sleep(0.2)\n" if warmed_up else "")
        + "answers = []\n"
        f"for _ in range({count}):\n"
        "    try:\n"
        f"        status, body = connection.exchange({request!r})\n"
        "        answers.append([status, body.decode()])\n"
        "    except (OSError, ValueError) as exc:\n"
        "        answers.append(type(exc).__name__)\n"
        "print(json.dumps(answers))\n"
    )
    return list(json.loads(python_output(code)))


CASES = {
    "content-length split over three sends": (
        [[[b"HTTP/1.1 200 OK\r\nContent-Le", b"ngth: 11\r\n\r\nhello", b" world"]]],
        [[200, "hello world"]],
    ),
    "chunked with an extension and a trailer": (
        [[[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n",
           b"6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"]]],
        [[200, "hello world"]],
    ),
    "chunked framing wins over a Content-Length beside it, then the connection is closed": (
        [[[b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n0\r\n\r\n"]], [[OK]]],
        [[200, "hello"], [200, "ok"]],
    ),
    "keep-alive: two answers on one connection": (
        [[[OK], [b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n"]]],
        [[200, "ok"], [429, ""]],
    ),
    "connection: close means a new connection for the next request": (
        [[[b"HTTP/1.1 503 Unavailable\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"]],
         [[OK]]],
        [[503, "x"], [200, "ok"]],
    ),
    "an HTTP/1.0 body without a length runs to the close": (
        [[[b"HTTP/1.0 200 OK\r\n\r\nuntil ", b"the end"]], [[OK]]],
        [[200, "until the end"], [200, "ok"]],
    ),
    "a kept-alive connection the server closed is retried once on a new one": (
        [[[OK], "close"], [[OK]]],
        [[200, "ok"], [200, "ok"]],
    ),
    "a fresh connection closed without an answer is an error": (
        [["close"]],
        ["ConnectionResetError"],
    ),
    "interim 1xx answers are skipped: the final answer is the request's": (
        [[[b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
           OK],
          [b"HTTP/1.1 103 Early Hints\r\n\r\n"
           b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nno"]]],
        [[200, "ok"], [201, "no"]],
    ),
    "204 has no body": (
        [[[b"HTTP/1.1 204 No Content\r\n\r\n"], [OK]]],
        [[204, ""], [200, "ok"]],
    ),
    "not HTTP is a protocol error": (
        [[[b"SSH-2.0-OpenSSH\r\n\r\n"]]],
        ["ProtocolError"],
    ),
}  # fmt: skip


WARMED_UP_CASES = {
    "a warmed-up connection the server closed before its first request is retried once": (
        [["drop"], [[OK]]],
        [[200, "ok"]],
    ),
    "a warmed-up connection is retried only once": (
        [["drop"], ["close"]],
        ["ConnectionResetError"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(WARMED_UP_CASES))
def test_a_connection_opened_before_the_window_counts_as_kept_alive(
    scripted: type[ScriptedServer], case: str
) -> None:
    # users open their connections before the window; the LIFO pacer may leave one idle
    # for longer than the target's idle timeout (the engine's header_timeout_s) before
    # its first request: a close the server made then is not an answer to that request
    connections, expected = WARMED_UP_CASES[case]
    server = scripted(connections)
    assert exchanges(server.port, len(expected), warmed_up=True) == expected


@pytest.mark.parametrize("case", list(CASES))
def test_the_client_reads_each_framing_and_keeps_alive_as_http_11_says(
    scripted: type[ScriptedServer], case: str
) -> None:
    connections, expected = CASES[case]
    server = scripted(connections)
    assert exchanges(server.port, len(expected)) == expected


def test_a_request_body_reaches_the_server_whole(scripted: type[ScriptedServer]) -> None:
    server = scripted([[[OK]]])
    body = b'{"id": "e-1"}' * 10_000  # larger than one send may take
    request = b"POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    assert exchanges(server.port, 1, request) == [[200, "ok"]]
    assert server.requests == [request]


def test_a_refused_connection_is_an_oserror() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert exchanges(port, 1) == ["ConnectionRefusedError"]


BIG_BODY_BYTES = 40_000_000


@pytest.mark.parametrize("framing", ["content-length", "chunked", "until-close"])
def test_a_huge_body_costs_cpu_in_proportion_to_its_size(framing: str) -> None:
    # a foreign target may answer with a large body: growing bytes by += copies everything
    # read so far on every read (40 MB took 5.4 s of CPU), which saturates the generator
    listener = socket.create_server(("127.0.0.1", 0))
    chunk = b"x" * 1_000_000
    parts = BIG_BODY_BYTES // len(chunk)
    if framing == "content-length":
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG_BODY_BYTES + chunk * parts
    elif framing == "chunked":
        small = b"%x\r\n%s\r\n" % (1000, b"x" * 1000)  # many small chunks in each read
        answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        answer += small * (BIG_BODY_BYTES // 1000) + b"0\r\n\r\n"
    else:
        answer = b"HTTP/1.0 200 OK\r\n\r\n" + chunk * parts

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            ScriptedServer._read_request(conn)
            conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    port = listener.getsockname()[1]
    code = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import json, time\n"
        "from veltrix_bench.load.connection import Connection\n"
        f"connection = Connection('127.0.0.1', {port})\n"
        "connection.connect()\n"
        "cpu = time.process_time()\n"
        "status, body = connection.exchange(b'GET / HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n')\n"
        "cpu = time.process_time() - cpu\n"
        "print(json.dumps([status, len(body), body.count(b'x'), cpu]))\n"
    )
    try:
        status, length, xs, cpu_s = json.loads(python_output(code))
    finally:
        listener.close()
    assert (status, length, xs) == (200, BIG_BODY_BYTES, BIG_BODY_BYTES)
    assert cpu_s < 2.0  # linear: ~0.1 s here; quadratic: several seconds
