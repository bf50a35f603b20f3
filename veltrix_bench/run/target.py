"""Which targets a load may be sent to: loopback unless the user explicitly allows more.

The guard and the HTTP clients must read a URL the same way, or a URL that the guard reads as
loopback sends the load elsewhere: `http://loadtest.invalid\\@127.0.0.1:8080` is 127.0.0.1 to
`urllib.parse` but loadtest.invalid to urllib3 (and so to a custom locustfile's HttpUser).
So the URL is parsed once, here, and only a plain spelling is accepted, one that urllib.parse,
urllib3, requests and geventhttpclient all read alike: `http(s)://HOST[:PORT][/]`, HOST being
a name of letters, digits and hyphens, four decimal numbers, or a bracketed IPv6 address.
Everything else a client might read otherwise is refused with the reason: user info,
backslashes, percent-encoding, whitespace and control characters, IPv6 zone ids, IPv4 written
as one number or in octal or hex, trailing dots, empty or non-decimal ports. The URL handed to
the clients is rebuilt from what was parsed, never the text as typed.

A path is refused rather than honoured: vbench and the engine contract address the API at
`/v1/...` from the root of the target, and a prefix would have to be honoured by every client,
a user's locustfile included, to mean anything.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from veltrix_bench.errors import VbenchError

EXAMPLE = "http://127.0.0.1:8080"
MAX_PORT = 65535

_SCHEME = re.compile(r"(?i)(https?)://")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,2}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_NUMERIC_LAST_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")


@dataclass(frozen=True)
class Target:
    """A target URL as every client reads it."""

    scheme: str
    host: str  # lower case; an IPv6 address without its brackets
    port: int | None  # None: the scheme's default

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port is None else f":{self.port}")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def check_target(url: str, allow_remote: bool, option: str = "--target") -> str:
    """The URL rebuilt from what was parsed; exit 2 for a malformed URL or a non-loopback host.

    Decided from the URL text alone, before any connection is attempted. `option` names where
    the URL came from in the messages.
    """
    target = parse_target(url, option)
    if not allow_remote and not target.loopback:
        raise VbenchError(
            f"{option} '{url}': {target.host} is not a loopback address; a load test sends a "
            "flood of requests, so pass --allow-remote if you really mean to load that host"
        )
    return target.url


class _Malformed(ValueError):
    """Why a URL is refused, in a few words; parse_target adds the URL and an example."""


def parse_target(url: str, option: str = "--target") -> Target:
    """Parse `url` the one way every client agrees on, or say why it cannot be (exit 2)."""
    try:
        return _parse(url)
    except _Malformed as exc:
        shown = f"'{url}'" if url.isascii() and url.isprintable() else ascii(url)
        raise VbenchError(f"{option} {shown}: {exc}; expected a URL like {EXAMPLE}") from None


def _parse(url: str) -> Target:
    if not url.isascii() or not url.isprintable() or any(c.isspace() for c in url):
        raise _Malformed("whitespace, a control or a non-ASCII character")
    if "\\" in url:
        raise _Malformed("a backslash (clients disagree on where the host ends)")
    scheme = _SCHEME.match(url)
    if scheme is None:
        raise _Malformed("the scheme must be http:// or https://")
    rest = url[scheme.end() :]
    authority, _, path = rest.partition("/")
    if "?" in authority or "#" in authority or "?" in path or "#" in path:
        raise _Malformed("a query or fragment")
    if path:
        raise _Malformed("a path (vbench loads the API at /v1/ from the root of the target)")
    if "@" in authority:
        raise _Malformed("user info before '@' (clients disagree on which part is the host)")
    if "%" in authority:
        raise _Malformed("percent-encoding or an IPv6 zone id in the host")
    host_text, port = _split_port(authority)
    return Target(scheme.group(1).lower(), _host(host_text), port)


def _split_port(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise _Malformed("an IPv6 address without its closing ']'")
        host_text, after = authority[: end + 1], authority[end + 1 :]
    else:
        colon = authority.find(":")
        host_text, after = (authority, "") if colon < 0 else (authority[:colon], authority[colon:])
    if not after:
        return host_text, None
    if not after.startswith(":"):
        raise _Malformed("text after the IPv6 address")
    port_text = after[1:]
    if not port_text.isdigit() or not 1 <= int(port_text) <= MAX_PORT:
        shown = f"port {port_text!r}" if port_text else "an empty port"
        raise _Malformed(f"{shown}: a port is a number from 1 to {MAX_PORT}")
    return host_text, int(port_text)


def _host(text: str) -> str:
    if text.startswith("["):
        try:
            return str(ipaddress.IPv6Address(text[1:-1]))
        except ValueError:
            raise _Malformed(f"{text} is not an IPv6 address") from None
    host = text.lower()
    if not host:
        raise _Malformed("no host")
    labels = host.split(".")
    if _NUMERIC_LAST_LABEL.fullmatch(labels[-1]):
        # Clients (and getaddrinfo) read 2130706433, 0x7f.1, 0177.0.0.1 or 127.1 as an IPv4
        # address, each its own way: only four plain decimal numbers mean one thing to all.
        if len(labels) != 4 or not all(_DECIMAL.fullmatch(label) for label in labels):
            raise _Malformed(
                f"{text}: write an IPv4 address as four decimal numbers, like 127.0.0.1"
            )
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise _Malformed(f"{text} is not an IPv4 address") from None
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise _Malformed(
            f"{text}: a host name is dot-separated labels of letters, digits and hyphens "
            "(no empty label, no trailing dot)"
        )
    return host


def is_loopback(host: str) -> bool:
    """Loopback by its text alone: `localhost`, 127.0.0.0/8 or ::1 (host as `parse_target`)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it could resolve anywhere
