"""A lean keep-alive HTTP/1.1 connection for vbench's own simulated players.

Why not FastHttpUser's client: measured here, a request through Locust's FastHttpSession
and geventhttpclient's user agent took ~540 Python calls (URL parsing, header objects, a
cookie jar, redirect handling, a C parser calling back into Python per header, Locust's
own statistics) where the request itself needs a send, a wait and a read. This client
sends bytes it was given on a non-blocking socket, waits for the answer with one watcher
of the event loop (no exception per wait, no timer: answers may take the whole run, and
the run's end stops the users), and reads the status, the headers it needs
(Content-Length, chunked transfer, Connection: close) and the body.

It speaks the HTTP/1.1 a Veltrix engine answers with: no redirects are followed (a 3xx
counts as an error), no compression is asked for, no 100-continue (interim 1xx answers a
server sends anyway are skipped). A request that finds
a connection it did not open itself (kept alive, or opened before the window and left idle)
closed by the server before any byte of the answer is sent again once on a new connection
(the server closed it idle, so it saw none of it). Custom locustfiles keep Locust's
clients; this one serves the bundled treasure-hunt players only.
Imported inside generator processes only (after gevent's patching).
"""

from __future__ import annotations

import functools
import socket
import ssl
from typing import Any

import gevent
from gevent import socket as cooperative_socket
from gevent.monkey import get_original

CONNECT_TIMEOUT_S = 10.0
READ_SIZE = 65536

_raw_socket_class: Any = get_original("socket", "socket")
"""The operating system's socket (not gevent's): its calls never wait, the loop's watcher does."""


class ProtocolError(ValueError):
    """The server's answer is not HTTP/1.1 as this client reads it."""


class Connection:
    """One connection to `host:port` (TLS when `tls`), used by one simulated user at a time.

    Plain connections use the raw socket and the loop's watchers; TLS ones, for https
    targets, gevent's cooperative TLS socket (certificates are not checked, as Locust's
    FastHttpUser does by default: a load tool talks to the service under test)."""

    def __init__(self, host: str, port: int, tls: bool = False) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self._socket: Any = None
        self._readable: Any = None
        self._writable: Any = None
        self._hub = gevent.get_hub()

    def connect(self) -> None:
        """Open the connection now (before the load window), not on the first request."""
        family, address = _address_of(self.host, self.port)
        connected = cooperative_socket.socket(family, socket.SOCK_STREAM)
        connected.settimeout(CONNECT_TIMEOUT_S)
        try:
            connected.connect(address)
        except BaseException:
            connected.close()
            raise
        connected.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self._socket = context.wrap_socket(connected, server_hostname=self.host)
            self._socket.settimeout(None)
            return
        raw = _raw_socket_class(fileno=connected.detach())
        raw.setblocking(False)
        self._socket = raw
        self._readable = self._hub.loop.io(raw.fileno(), 1)
        self._writable = self._hub.loop.io(raw.fileno(), 2)

    def close(self) -> None:
        for watcher in (self._readable, self._writable):
            if watcher is not None:
                watcher.close()
        if self._socket is not None:
            self._socket.close()
        self._socket = self._readable = self._writable = None

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send one request and read its answer: (status, body). OSError if it fails."""
        for attempt in (1, 2):
            # a connection opened before this request (kept alive, or warmed up before the
            # window: the LIFO pacer may leave a user idle past the target's idle timeout)
            # may have been closed idle by the server; one opened for it was not
            fresh = self._socket is None
            if fresh:
                self.connect()
            try:
                self._send(request)
                first = self._recv()
            except OSError as exc:
                failure: OSError = exc
            else:
                if first:
                    try:
                        return self._read_answer(first)
                    except (OSError, ValueError):
                        self.close()
                        raise
                failure = ConnectionResetError("the server closed the connection without answering")
            self.close()
            if fresh or attempt == 2:
                raise failure
            # the server had closed the idle connection: it saw none of this request
        raise AssertionError("unreachable")

    def _send(self, data: bytes) -> None:
        sock = self._socket
        if self.tls:
            sock.sendall(data)  # gevent's TLS socket waits by itself
            return
        while data:
            try:
                sent = sock.send(data)
            except BlockingIOError:  # the send buffer is full: wait until it takes more
                self._hub.wait(self._writable)
                continue
            data = data[sent:]

    def _recv(self) -> bytes:
        sock = self._socket
        if self.tls:
            return sock.recv(READ_SIZE)
        while True:
            # wait first: right after a request the answer is never there yet, and a
            # recv that finds nothing raises (costly) before it could wait
            self._hub.wait(self._readable)
            try:
                return sock.recv(READ_SIZE)
            except BlockingIOError:
                continue

    def _read_answer(self, buffer: bytes) -> tuple[int, bytes]:
        while True:
            while (head_end := buffer.find(b"\r\n\r\n")) < 0:
                buffer += self._more()
            head = buffer[:head_end].lower()
            if not head.startswith(b"http/1.") or len(head) < 12:
                raise ProtocolError(f"not an HTTP/1.x answer: {buffer[:40]!r}")
            status = int(head[9:12])
            if not 100 <= status < 200:
                break
            if status == 101:
                raise ProtocolError("101 Switching Protocols, but no upgrade was asked for")
            # an interim answer (100 Continue, 103 Early Hints): the request's own one follows
            buffer = buffer[head_end + 4 :]
        connection = _header(head, _CONNECTION, b"")
        if head.startswith(b"http/1.1"):
            keep_alive = connection != b"close"
        else:
            keep_alive = connection == b"keep-alive"
        body = buffer[head_end + 4 :]
        length = _header(head, _CONTENT_LENGTH, b"")
        if status in (204, 304):
            body = b""
        elif b"chunked" in _header(head, _TRANSFER_ENCODING, b""):
            body = self._read_chunks(body)
            if length:  # both framings: the chunks frame it, and the connection is suspect
                keep_alive = False  # (RFC 9112 6.3)
        elif length:
            expected = int(length)
            if len(body) < expected:  # rare: an answer mostly comes in one read
                grown = bytearray(body)  # grows in place: a huge body costs linear time
                while len(grown) < expected:
                    grown += self._more()
                body = bytes(grown)
            body = body[:expected]
        else:  # the body runs until the server closes the connection
            grown = bytearray(body)
            while more := self._recv():
                grown += more
            body = bytes(grown)
            keep_alive = False
        if not keep_alive:
            self.close()
        return status, body

    def _read_chunks(self, buffer: bytes) -> bytes:
        # read on from an offset into one growing buffer: slicing off each chunk would copy
        # the rest of the answer once per chunk
        data = bytearray(buffer)
        parts: list[bytes] = []
        at = 0
        while True:
            while (line_end := data.find(b"\r\n", at)) < 0:
                data += self._more()
            size = int(data[at:line_end].split(b";", 1)[0], 16)
            at = line_end + 2
            if size == 0:
                # the trailers, then an empty line: with no trailers, the CRLF of the size
                # line and the empty line make the CRLFCRLF
                while data.find(b"\r\n\r\n", at - 2) < 0:
                    data += self._more()
                return b"".join(parts)
            while len(data) < at + size + 2:
                data += self._more()
            parts.append(bytes(data[at : at + size]))
            at += size + 2

    def _more(self) -> bytes:
        more = self._recv()
        if not more:
            raise ProtocolError("the connection closed inside the answer")
        return more


@functools.cache
def _address_of(host: str, port: int) -> tuple[int, Any]:
    """(family, address) of the target, looked up once per process, not once per connect
    (gevent resolves in a thread pool: thousands of users warm up at once)."""
    family, _, _, _, address = cooperative_socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    return family, address


_CONNECTION = b"\r\nconnection:"
_CONTENT_LENGTH = b"\r\ncontent-length:"
_TRANSFER_ENCODING = b"\r\ntransfer-encoding:"


def _header(head: bytes, line_start: bytes, default: bytes) -> bytes:
    """The value of the header whose line starts with `line_start` (CRLF, lower-cased name,
    colon) in a lower-cased head, or `default`."""
    start = head.find(line_start)
    if start < 0:
        return default
    start += len(line_start)
    end = head.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()
