"""Shared fixtures: real engines on loopback with real SQLite files in a temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from veltrix_bench.engine.config import load_config
from veltrix_bench.engine.process import EngineProcess, start_engine
from veltrix_bench.load.protocol import Line
from veltrix_bench.load.spec import LoadSpec
from veltrix_bench.run.generator_process import GeneratorProcess

EngineFactory = Callable[..., EngineProcess]
GeneratorFactory = Callable[[LoadSpec | str], GeneratorProcess]


@pytest.fixture
def engine_factory(tmp_path: Path) -> Iterator[EngineFactory]:
    """Start engines from a preset plus per-section overrides; every one is stopped after."""
    started: list[EngineProcess] = []

    def start(preset: str = "default", db: Path | None = None, **overrides: Any) -> EngineProcess:
        config = load_config(preset).with_overrides(**overrides)
        index = len(started)
        config_file = tmp_path / f"engine-{index}.toml"
        config_file.write_text(config.to_toml())
        engine = start_engine(
            config_file, db or tmp_path / "veltrix.db", tmp_path / f"engine-{index}.log"
        )
        started.append(engine)
        return engine

    yield start
    for engine in started:
        engine.stop()


@pytest.fixture
def generator_factory(tmp_path: Path) -> Iterator[GeneratorFactory]:
    """Start load generator processes as vbench does, from a spec (or a spec file's raw text);
    their log is tmp_path/load.log; every one is stopped after."""
    started: list[GeneratorProcess] = []

    def start(spec: LoadSpec | str) -> GeneratorProcess:
        spec_path = tmp_path / f"spec-{len(started)}.json"
        spec_path.write_text(spec if isinstance(spec, str) else spec.to_json())
        started.append(GeneratorProcess(tmp_path / "load.log", spec_path))
        return started[-1]

    yield start
    for process in started:
        process.interrupt()
        process.wait(10)


def generator_output(
    process: GeneratorProcess, timeout: float = 90
) -> tuple[int | None, list[Line]]:
    """(exit code, every protocol line) once the generator has exited."""
    deadline = time.monotonic() + timeout
    lines: list[Line] = []
    while (line := process.lines.get(timeout=max(0.1, deadline - time.monotonic()))) is not None:
        lines.append(line)
    return process.wait(10), lines


def http(
    method: str,
    url: str,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, decoded JSON or text) of one request, errors included."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, headers, payload = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        status, headers, payload = error.code, dict(error.headers), error.read()
    text = payload.decode()
    try:
        return status, headers, json.loads(text)
    except ValueError:
        return status, headers, text


def python_output(code: str) -> str:
    """What a fresh Python process running `code` prints; it must exit 0."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def post_events(engine: EngineProcess, events: Any) -> tuple[int, dict[str, str], Any]:
    return http("POST", f"{engine.url}/v1/events", events)
