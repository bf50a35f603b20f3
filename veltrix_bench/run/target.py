"""Which targets a load may be sent to: loopback unless the user explicitly allows more."""

from __future__ import annotations

import ipaddress
import urllib.parse

from veltrix_bench.errors import VbenchError


def check_target(url: str, allow_remote: bool) -> str:
    """The normalised base URL; exit 2 for a malformed URL or a non-loopback host.

    Decided from the URL text alone, before any connection is attempted.
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise VbenchError(f"--target '{url}': expected a URL like http://127.0.0.1:8080")
    host = parsed.hostname
    if not allow_remote and not is_loopback(host):
        raise VbenchError(
            f"--target '{url}': {host} is not a loopback address; a load test sends a flood "
            "of requests, so pass --allow-remote if you really mean to load that host"
        )
    return f"{parsed.scheme}://{parsed.netloc}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it could resolve anywhere
