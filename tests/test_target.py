"""The remote guard reads a --target URL exactly as the HTTP clients will, or refuses it.

Only the guard is called here: no URL is ever connected to.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import urllib.parse
import urllib.request
from collections.abc import Callable

import pytest
import requests
from geventhttpclient.url import URL
from hypothesis import example, given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from veltrix_bench.errors import EXIT_USAGE, VbenchError
from veltrix_bench.run.target import check_target, parse_target

DEFAULT_PORT = {"http": 80, "https": 443}

HostPort = tuple[str, int]


def _normal(host: str | None, port: int | None, scheme: str) -> HostPort:
    text = (host or "").lower().strip("[]")
    with contextlib.suppress(ValueError):  # a name stays as it is
        text = str(ipaddress.ip_address(text))
    return text, port if port is not None else DEFAULT_PORT[scheme]


def _urlsplit(url: str) -> HostPort:
    parts = urllib.parse.urlsplit(url)
    return _normal(parts.hostname, parts.port, parts.scheme.lower())


def _urllib3(url: str) -> HostPort:
    parts = parse_url(url)
    return _normal(parts.host, parts.port, (parts.scheme or "").lower())


def _requests(url: str) -> HostPort:  # what an HttpUser (requests, then urllib3) connects to
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    assert prepared.url is not None
    return _urllib3(prepared.url)


def _geventhttpclient(url: str) -> HostPort:  # what a FastHttpUser connects to
    parts = URL(url)
    return _normal(parts.host, parts.port, parts.scheme.lower())


def _urllib_request(url: str) -> HostPort:  # what vbench's own monitor connects to
    request = urllib.request.Request(url)
    https = request.type.lower() == "https"
    kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
    connection = kind(request.host)  # parses host:port; would connect only on first use
    return _normal(connection.host, connection.port, request.type.lower())


READERS: dict[str, Callable[[str], HostPort]] = {
    "urllib.parse.urlsplit": _urlsplit,
    "urllib3.parse_url": _urllib3,
    "requests": _requests,
    "geventhttpclient": _geventhttpclient,
    "urllib.request": _urllib_request,
}

PIECES = [
    "http://", "https://", "HTTP://", "127.0.0.1", "127.0.0.2", "localhost", "LocalHost",
    "loadtest.invalid", "evil.com", "[::1]", "[0:0::1]", "::1", "[", "]", "@", "user:pw@",
    "\\", "/", "//", ":", ":8080", ":080", ":0", ":99999", ":abc", "%2e", "%31", "%25lo", "%",
    "#", "?", ";", ",", " ", "\t", "\n", "\r", "\x00", ".", "..", "0x7f", "0x7f.1",
    "2130706433", "0177.0.0.1", "127.1", "1", "0", "a", "-", "é", "８", "xn--",
    "[::ffff:127.0.0.1]",
]  # fmt: skip

urls = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=8).map("".join),
    st.tuples(
        st.sampled_from(["http://", "https://"]), st.lists(st.sampled_from(PIECES), max_size=6)
    ).map(lambda parts: parts[0] + "".join(parts[1])),
    st.text(max_size=40),
)


@settings(max_examples=3000, deadline=None)
@given(urls)
@example("http://loadtest.invalid\\@127.0.0.1:8080")
@example("http://127.0.0.1:8080")
@example("http://[::1]:8080/")
def test_every_client_reads_an_accepted_url_as_the_guard_does(url: str) -> None:
    try:
        target = parse_target(url)
    except VbenchError as refused:
        assert refused.exit_code == EXIT_USAGE
        assert "\n" not in refused.message
        return
    decided = (target.host, target.port or DEFAULT_PORT[target.scheme])
    for name, read in READERS.items():
        assert read(url) == decided, f"{name} reads {url!r} otherwise"
        assert read(target.url) == decided, f"{name} reads the rebuilt {target.url!r} otherwise"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://loadtest.invalid\\@127.0.0.1:8080", "backslash"),
        ("http://loadtest.invalid@127.0.0.1:8080", "user info"),
        ("http://user:pw@127.0.0.1:8080", "user info"),
        ("http://%31%32%37.0.0.1:8080", "percent-encoding"),
        ("http://127.0.0.1%2e:8080", "percent-encoding"),
        ("http://[::1%25lo]:8080", "zone id"),
        ("http://[fe80::1%eth0]:8080", "zone id"),
        ("http://127.0.0.1 :8080", "whitespace"),
        ("http://127.0.0.1\t:8080", "whitespace"),
        ("http://127.0.0.1\x00.evil.com", "control"),
        ("http://127.0.0.１:8080", "non-ASCII"),
        ("http://2130706433/", "four decimal numbers"),
        ("http://0x7f.1/", "four decimal numbers"),
        ("http://0x7f000001:8080", "four decimal numbers"),
        ("http://0177.0.0.1:8080", "four decimal numbers"),
        ("http://127.1:8080", "four decimal numbers"),
        ("http://127.0.0.256:8080", "not an IPv4 address"),
        ("http://127.0.0.1.:8080", "trailing dot"),
        ("http://localhost.:8080", "trailing dot"),
        ("http://127.0.0.1:", "empty port"),
        ("http://127.0.0.1:abc", "port 'abc'"),
        ("http://127.0.0.1:99999", "port '99999'"),
        ("http://127.0.0.1:0", "port '0'"),
        ("http://127.0.0.1:+80", "port '+80'"),
        ("http://[::1]x:8080", "after the IPv6 address"),
        ("http://[::1:8080", "closing ']'"),
        ("http://[::g]:8080", "not an IPv6 address"),
        ("http://127.0.0.1:8080/api", "a path"),
        ("http://127.0.0.1:8080?x=1", "query"),
        ("http://127.0.0.1#frag", "fragment"),
        ("ftp://127.0.0.1", "http:// or https://"),
        ("127.0.0.1:8080", "http:// or https://"),
        ("http://", "no host"),
        ("http://:8080", "no host"),
        ("http://-a.example:8080", "labels"),
        ("http://evil.com:8080", "not a loopback address"),
        ("http://[::ffff:7f00:1]:8080", "not a loopback address"),
    ],
)
def test_a_url_clients_could_read_otherwise_is_refused_in_one_line(url: str, why: str) -> None:
    with pytest.raises(VbenchError) as refused:
        check_target(url, allow_remote=False)
    assert refused.value.exit_code == EXIT_USAGE
    assert why in refused.value.message
    assert "\n" not in refused.value.message


@pytest.mark.parametrize(
    ("url", "rebuilt"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("HTTP://LocalHost:08080", "http://localhost:8080"),
        ("https://127.9.0.1", "https://127.9.0.1"),
        ("http://[0:0::1]:8080", "http://[::1]:8080"),
    ],
)
def test_an_accepted_url_is_rebuilt_from_what_was_parsed(url: str, rebuilt: str) -> None:
    assert check_target(url, allow_remote=False) == rebuilt


def test_allow_remote_lets_a_plain_remote_url_through_but_never_an_ambiguous_one() -> None:
    assert check_target("http://loadtest.example.org:8080", allow_remote=True) == (
        "http://loadtest.example.org:8080"
    )
    with pytest.raises(VbenchError, match="backslash"):
        check_target("http://loadtest.invalid\\@127.0.0.1:8080", allow_remote=True)
