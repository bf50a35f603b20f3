"""`vbench run --target` against another implementation of the event API: a tiny aiohttp server
that answers events but has another /v1/stats (or none) and no /metrics; and how such a run
ends when its hunts do not parse, when it is interrupted after the load, or when it is killed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiohttp import web

pytestmark = pytest.mark.slow

SCENARIO = """name = "foreign"
[load]
rate = 20
duration = "2s"
drain = "1s"
max_in_flight = 50
[world]
hunts = 1
players = 20
"""
HUNT = {"hunt": 1, "places": [1, 2], "clues": [{"clue": 1, "answer": "a"}], "treasures": [1]}


@dataclass
class Foreign:
    """How the foreign engine answers what vbench reads beyond the events themselves."""

    stats: str = "absent"  # "absent" (404), "other" (another shape), "busy" (always in flight)
    metrics: str = "absent"  # "absent" (404) or "other" (text that is not Prometheus')
    hunt: dict[str, Any] = field(default_factory=lambda: dict(HUNT))
    events: int = 0
    stats_reads: int = 0
    on_stats_read: Any = None  # called with the read's number (1: before the load)


def serve(foreign: Foreign) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        body = await request.json()
        batch = body if isinstance(body, list) else [body]
        foreign.events += len(batch)
        return web.json_response({"results": [{"id": e["id"], "status": "applied"} for e in batch]})

    async def hunt(request: web.Request) -> web.Response:
        return web.json_response(foreign.hunt)

    async def stats(request: web.Request) -> web.Response:
        foreign.stats_reads += 1
        if foreign.on_stats_read is not None:
            foreign.on_stats_read(foreign.stats_reads)
        if foreign.stats == "other":
            return web.json_response({"events": foreign.events, "version": "2.1"})
        if foreign.stats == "busy":
            counters = {"join": foreign.events}
            return web.json_response({"acknowledged": counters, "persisted": counters,
                                      "treasures_won": 0, "requests_in_flight": 1})  # fmt: skip
        raise web.HTTPNotFound()

    async def metrics(request: web.Request) -> web.Response:
        if foreign.metrics == "other":
            return web.Response(text="<html>no metrics here</html>")
        raise web.HTTPNotFound()

    async def anything(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/events", events)
    app.router.add_get("/v1/hunts/{hunt}", hunt)
    app.router.add_get("/v1/stats", stats)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/{tail:.*}", anything)
    return app


@pytest.fixture
def foreign_target() -> Iterator[tuple[str, Foreign]]:
    """(its URL on loopback, its settings), served from a thread until the test ends."""
    foreign = Foreign()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner = web.AppRunner(serve(foreign), access_log=None)
    port: list[int] = []

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()))
    thread.start()
    assert started.wait(10)
    yield f"http://127.0.0.1:{port[0]}", foreign
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def start_run(tmp_path: Path, target: str) -> subprocess.Popen[str]:
    scenario = tmp_path / "foreign.toml"
    scenario.write_text(SCENARIO)
    command = [sys.executable, "-m", "veltrix_bench", "run", "--target", target,
               "--scenario", str(scenario), "--out", str(tmp_path / "runs")]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(run: subprocess.Popen[str]) -> tuple[int, Path, str]:
    """(exit code, the run directory from the last line, stderr)."""
    stdout, stderr = run.communicate(timeout=120)
    assert "Traceback" not in stderr, stderr
    return run.returncode, Path(stdout.strip().splitlines()[-1]), stderr


def summary_of(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "summary.json").read_text()))


@pytest.mark.parametrize(
    ("stats", "metrics", "why"),
    [
        ("absent", "absent", "answers http://127.0.0.1:{port}/v1/stats with HTTP 404"),
        ("other", "other", "/v1/stats has another shape"),
    ],
)
def test_a_target_without_our_stats_or_metrics_still_gets_a_complete_run(
    foreign_target: tuple[str, Foreign], tmp_path: Path, stats: str, metrics: str, why: str
) -> None:
    url, foreign = foreign_target
    foreign.stats, foreign.metrics = stats, metrics
    code, run_dir, stderr = finished(start_run(tmp_path, url))
    assert code == 0, stderr
    summary = summary_of(run_dir)
    assert summary["status"] == "complete" and summary["requests"]["total"] > 0
    assert summary["requests"]["errors"] == 0
    assert all(summary["latency_ms"][k] is not None for k in ("p50", "p99", "max"))
    assert summary["invariants"] == {}
    assert why.format(port=url.rsplit(":", 1)[1]) in summary["invariants_not_applicable"]
    assert summary["engine"]["max_queue_depth"] is None and summary["engine"]["peak_rss_mb"] is None
    assert any("queue depth" in w and "not available" in w for w in summary["warnings"])
    assert "engine invariants not applicable" in stderr
    assert "not applicable" in (run_dir / "report.md").read_text()


def test_a_hunt_that_does_not_parse_ends_the_run_with_exit_3_and_a_summary(
    foreign_target: tuple[str, Foreign], tmp_path: Path
) -> None:
    url, foreign = foreign_target
    foreign.hunt = {"hunt": 1, "places": [1], "treasures": [1]}  # no clues
    code, run_dir, stderr = finished(start_run(tmp_path, url))
    assert code == 3
    assert f"{url}/v1/hunts/1" in stderr and "clues" in stderr
    summary = summary_of(run_dir)
    assert summary["status"] == "failed" and "clues" in summary["status_detail"]
    assert (run_dir / "report.html").exists()


def test_ctrl_c_after_the_load_but_before_the_end_exits_130_with_everything_written(
    foreign_target: tuple[str, Foreign], tmp_path: Path
) -> None:
    """The target never settles (always a request in flight), so vbench waits after the load:
    a Ctrl-C then, once the load is over, must still stop the run."""
    url, foreign = foreign_target
    foreign.stats = "busy"
    run = start_run(tmp_path, url)
    interrupted_at: list[float] = []

    def interrupt_after_the_load(read: int) -> None:
        if read == 2 and not interrupted_at:  # the first read after the load
            interrupted_at.append(time.monotonic())
            os.kill(run.pid, signal.SIGINT)

    foreign.on_stats_read = interrupt_after_the_load
    code, run_dir, _ = finished(run)
    assert interrupted_at, "the run never read /v1/stats after the load"
    assert code == 130
    assert time.monotonic() - interrupted_at[0] < 10  # it does not wait the settle time out
    summary = summary_of(run_dir)
    assert summary["status"] == "interrupted" and summary["requests"]["total"] > 0
    assert (run_dir / "report.html").exists() and (run_dir / "timeseries.csv").exists()


def test_a_run_killed_outright_leaves_a_directory_that_says_it_never_finished(
    foreign_target: tuple[str, Foreign], tmp_path: Path
) -> None:
    url, foreign = foreign_target
    run = start_run(tmp_path, url)
    deadline = time.monotonic() + 60
    while foreign.events == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    children = psutil.Process(run.pid).children(recursive=True)
    run.kill()
    run.communicate(timeout=30)
    for child in children:  # its children are not what this test is about
        child.kill()
    psutil.wait_procs(children, timeout=10)
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"
    assert not (run_dir / "summary.json").exists()
    report = subprocess.run(
        [sys.executable, "-m", "veltrix_bench", "report", str(run_dir)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert summary_of(run_dir)["status"] == "running"
