"""Check pooled keep-alive sockets without select(), which fails for descriptors >= 1024.

For custom locustfiles' FastHttpUsers (vbench's own players use `connection.py`).

Before reusing an idle pooled socket, geventhttpclient 2.6 asks `select.select()` whether
it is readable (closed by the peer, or dirty). select() cannot take a descriptor of 1024
or more: the check raises, the socket counts as dead and is closed and replaced by a new
connection, on every request, as soon as a generator holds more than ~1,000 connections.
Measured here with 3,000 users: 2,000 of them reconnected on each request, closing
sockets took a quarter of the generator's CPU, and the target saw a new connection per
request instead of keep-alive (geventhttpclient's own `validate_connections` option, added
later, avoids select() too). poll() with a zero timeout answers the same question for any
descriptor, once per request: ~1.6 µs here, against ~5 µs for a MSG_PEEK recv that raises
BlockingIOError on every idle socket.
"""

from __future__ import annotations

import select
from collections.abc import Callable
from typing import Any

_new_poller: Callable[[], Any] | None = getattr(select, "poll", None)
"""The operating system's poll(); install() fetches it again from under gevent's patch."""


def is_socket_alive(pool: Any, sock: Any) -> bool:
    """True if an idle keep-alive socket is open and has nothing unread."""
    if sock is None:
        return False
    raw = getattr(sock, "_sock", sock)  # gevent sockets wrap the real one
    try:
        descriptor = raw.fileno()
    except (OSError, ValueError):
        return False
    if descriptor < 0:
        return False
    assert _new_poller is not None, "poll() is missing on this platform"
    poller = _new_poller()
    poller.register(descriptor, select.POLLIN)
    # any event on an idle socket means it is unusable: readable (the peer closed, or
    # sent stray bytes), hung up, in error, or not a descriptor any more
    return not poller.poll(0)


def install() -> None:
    """Replace geventhttpclient's select()-based check in this process."""
    global _new_poller
    from gevent.monkey import get_original
    from geventhttpclient.connectionpool import ConnectionPool

    _new_poller = get_original("select", "poll")
    # a private method (pyproject bounds geventhttpclient; tests/test_load_patches.py pins it):
    # replacing a name that no longer exists would silently patch nothing
    if not hasattr(ConnectionPool, "_is_socket_alive"):
        raise RuntimeError(
            "geventhttpclient's ConnectionPool._is_socket_alive is gone: vbench's keep-alive "
            "check needs updating for this geventhttpclient version"
        )
    ConnectionPool._is_socket_alive = is_socket_alive  # type: ignore[method-assign,assignment]
