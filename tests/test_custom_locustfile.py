"""Bring your own traffic: a scenario's locustfile drives any HTTP service, recorded by vbench."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import GeneratorFactory, generator_output
from veltrix_bench.errors import ConfigError
from veltrix_bench.load.protocol import Error, Final, Tick
from veltrix_bench.load.scenario import SCENARIO_DIR, load_scenario
from veltrix_bench.load.spec import LoadSpec

EXAMPLE = SCENARIO_DIR / "locustfiles" / "healthz.py"


class _Counting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).hits += 1
        body = b'{"ok": true}'
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tiny_server() -> Iterator[str]:
    _Counting.hits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_worked_example_scenario_names_its_locustfile_by_absolute_path() -> None:
    scenario = load_scenario("healthz")
    assert scenario.locustfile == str(EXAMPLE.resolve())
    spec = scenario.to_load_spec(
        "http://127.0.0.1:1", Path("."), rate=None, users=None, duration_s=None, seed=None,
        run_tag="t",
    )  # fmt: skip
    assert LoadSpec.from_json(spec.to_json()).locustfile == scenario.locustfile


def test_a_scenario_naming_a_missing_locustfile_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\nlocustfile = "nowhere.py"\n')
    with pytest.raises(ConfigError, match="nowhere.py"):
        load_scenario(str(path))


def test_a_locustfile_that_is_not_python_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    (tmp_path / "broken.py").write_text("from locust import task\ndef oops(:\n")
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\nlocustfile = "broken.py"\n')
    with pytest.raises(ConfigError, match=r"broken.py: line 2 not valid Python"):
        load_scenario(str(path))


def _spec(url: str, tmp_path: Path, **options: object) -> LoadSpec:
    spec = load_scenario("healthz").to_load_spec(
        url, tmp_path, rate=40, users=None, duration_s=2, seed=None, run_tag="byo"
    )
    return replace(spec, max_in_flight=20, drain_s=2.0, **options)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_a_custom_locustfile_paced_by_the_open_model_is_recorded_exactly(
    tiny_server: str, generator_factory: GeneratorFactory, tmp_path: Path, processes: int
) -> None:
    spec = _spec(tiny_server, tmp_path, processes=processes, master_port=0)
    code, lines = generator_output(generator_factory(spec))
    assert code == 0, (tmp_path / "load.log").read_text()[-3000:]
    final = lines[-1]
    assert isinstance(final, Final)
    # 40 requests/s for 2 s: every intended time used once, every answer recorded
    assert final.scheduled == final.started == final.requests.total == 80
    assert final.requests.ok == 80 and _Counting.hits == 80
    assert sum(line.requests for line in lines if isinstance(line, Tick)) == 80
    assert final.acked_by_type == {} and final.wins_seen == {}
    assert final.latency_ms.p50 is not None
    assert final.processes == processes


@pytest.mark.slow
def test_a_locustfile_without_user_classes_fails_with_one_clear_line(
    tiny_server: str, generator_factory: GeneratorFactory, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    spec = replace(_spec(tiny_server, tmp_path), locustfile=str(empty))
    code, lines = generator_output(generator_factory(spec))
    assert code == 1
    assert isinstance(lines[-1], Error) and "defines no concrete User class" in lines[-1].message
