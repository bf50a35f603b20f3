"""The keep-alive check that replaces geventhttpclient's select(): works past fd 1024."""

from __future__ import annotations

import os
import resource
import socket
from collections.abc import Iterator

import pytest

from tests.conftest import python_output
from veltrix_bench.load.liveness import is_socket_alive

HIGH_FD = 1500


@pytest.fixture
def high_fd_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft <= HIGH_FD:
        pytest.skip(f"open-file limit {soft} is too low to place a socket at fd {HIGH_FD}")
    ours, peer = socket.socketpair()
    os.dup2(ours.fileno(), HIGH_FD)
    high = socket.socket(fileno=HIGH_FD)
    ours.close()
    yield high, peer
    high.close()
    peer.close()


def test_an_idle_open_socket_past_fd_1024_is_alive(
    high_fd_pair: tuple[socket.socket, socket.socket],
) -> None:
    high, _ = high_fd_pair
    assert high.fileno() >= 1024
    assert is_socket_alive(None, high)


def test_a_socket_closed_by_the_peer_is_dead(
    high_fd_pair: tuple[socket.socket, socket.socket],
) -> None:
    high, peer = high_fd_pair
    peer.close()
    assert not is_socket_alive(None, high)


def test_a_socket_with_stray_unread_bytes_is_not_reused(
    high_fd_pair: tuple[socket.socket, socket.socket],
) -> None:
    high, peer = high_fd_pair
    peer.sendall(b"HTTP/1.1 200 OK\r\n")
    assert not is_socket_alive(None, high)
    assert high.recv(100).startswith(b"HTTP/1.1")  # peeking consumed nothing


def test_a_closed_socket_is_dead() -> None:
    ours, peer = socket.socketpair()
    ours.close()
    assert not is_socket_alive(None, ours)
    assert not is_socket_alive(None, None)
    peer.close()


def test_install_puts_the_system_poll_check_into_geventhttpclient_under_gevent() -> None:
    code = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import select\n"
        "from gevent.monkey import get_original\n"
        "from geventhttpclient.connectionpool import ConnectionPool\n"
        "from veltrix_bench.load import liveness\n"
        "liveness.install()\n"
        "assert liveness._new_poller is get_original('select', 'poll')\n"
        "assert ConnectionPool._is_socket_alive is liveness.is_socket_alive\n"
        "import socket\n"
        "a, b = socket.socketpair()\n"
        "assert liveness.is_socket_alive(None, a)\n"
        "b.close()\n"
        "assert not liveness.is_socket_alive(None, a)\n"
        "print('ok')\n"
    )
    assert python_output(code) == "ok"
