"""Every private name of Locust and geventhttpclient that vbench patches or reaches still exists."""

from __future__ import annotations

import pytest

from tests.conftest import python_output

# (module, dotted name inside it, who relies on it)
PRIVATE_NAMES = [
    (
        "geventhttpclient.connectionpool",
        "ConnectionPool._is_socket_alive",
        "load/liveness.py replaces it (select() fails past fd 1024)",
    ),
    (
        "locust.runners",
        "WORKER_REPORT_INTERVAL",
        "load/worker.py shortens Locust's worker-report period for the live view",
    ),
]


@pytest.mark.parametrize(
    ("module", "name", "user"), PRIVATE_NAMES, ids=[n for _, n, _ in PRIVATE_NAMES]
)
def test_a_patched_private_name_is_still_there(module: str, name: str, user: str) -> None:
    # a fresh Python: importing locust patches gevent into whatever process imports it
    code = (
        f"import importlib, {module.split('.')[0]}\n"
        f"owner = importlib.import_module({module!r})\n"
        f"for part in {name!r}.split('.'):\n"
        f"    owner = getattr(owner, part, None)\n"
        f"print(owner is not None)\n"
    )
    found = python_output(code) == "True"
    version = python_output(
        f"from importlib.metadata import version; print(version({module.split('.')[0]!r}))"
    )
    assert found, (
        f"{module}.{name} is gone in {module.split('.')[0]} {version}: {user}; update that code "
        f"and the version bound in pyproject.toml"
    )
