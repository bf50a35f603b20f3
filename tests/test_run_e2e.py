"""`vbench run` end to end: real engine, real Locust, real files; and every way a run can end."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from tests.conftest import http

pytestmark = pytest.mark.slow


def vbench(*args: str) -> list[str]:
    return [sys.executable, "-m", "veltrix_bench", *args]


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def assert_all_gone(processes: list[psutil.Process], within: float = 5.0) -> None:
    _, alive = psutil.wait_procs(processes, timeout=within)
    assert not alive, f"orphaned: {[p.cmdline() for p in alive]}"


def start_run(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        vbench("run", "--out", str(tmp_path), *args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_load(tmp_path: Path, timeout: float = 60.0) -> Path:
    """The run directory, once the load has been running for a couple of seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run_dir in tmp_path.iterdir():
            series = run_dir / "load.log"
            if series.exists() and (run_dir / "load-spec.json").exists():
                time.sleep(4)
                return run_dir
        time.sleep(0.2)
    raise AssertionError("the load never started")


def test_smoke_run_writes_a_consistent_run_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        vbench("run", "--scenario", "smoke", "--rate", "60", "--out", str(tmp_path)),
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path
    for name in (
        "summary.json", "latency.hlog", "service.hlog", "timeseries.csv", "engine.log",
        "load.log", "report.md", "report.html", "engine.db",
    ):  # fmt: skip
        assert (run_dir / name).stat().st_size > 0, name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["schema"] == "vbench.summary/1" and summary["status"] == "complete"
    requests = summary["requests"]
    assert requests["total"] == requests["ok"] + requests["errors"] + requests["rejected"]
    assert requests["total"] > 100 and requests["errors"] == 0
    latency = summary["latency_ms"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["p999"]
    assert latency["p999"] <= latency["max"]
    assert summary["service_time_ms"]["p50"] <= latency["p50"] * 1.001
    duration = summary["load"]["duration_s"]
    assert summary["requests"]["throughput_rps"] == pytest.approx(
        requests["total"] / duration, rel=0.01
    )
    assert summary["requests"]["throughput_rps"] == pytest.approx(60, rel=0.2)
    assert summary["invariants"] == {"acked_equals_persisted": True, "claims_exactly_once": True}
    assert summary["engine"]["events_acked"] == summary["engine"]["events_persisted"] > 0
    assert summary["generator"]["saturated"] is False
    series = pd.read_csv(run_dir / "timeseries.csv")
    assert len(series) >= 4 and series["requests"].sum() <= requests["total"]
    assert series["engine_rss_mb"].max() > 10


def test_an_unreachable_target_exits_3_naming_the_url(tmp_path: Path) -> None:
    done = subprocess.run(
        vbench("run", "--target", "http://127.0.0.1:9", "--out", str(tmp_path)),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3
    assert "http://127.0.0.1:9" in done.stderr and "unreachable" in done.stderr


def test_ctrl_c_stops_every_child_and_still_writes_results(tmp_path: Path) -> None:
    run = start_run(tmp_path, "--scenario", "steady", "--rate", "50", "--duration", "60s")
    run_dir = wait_for_load(tmp_path)
    children = descendants(run.pid)
    assert len(children) >= 2  # the engine and the load generator
    run.send_signal(signal.SIGINT)
    started = time.monotonic()
    run.wait(30)
    assert run.returncode == 130
    assert time.monotonic() - started < 10
    assert_all_gone(children)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["requests"]["total"] > 0
    assert (run_dir / "report.html").exists()


def test_an_engine_that_dies_mid_run_ends_the_run_with_exit_3(tmp_path: Path) -> None:
    run = start_run(tmp_path, "--scenario", "steady", "--rate", "50", "--duration", "60s")
    run_dir = wait_for_load(tmp_path)
    children = descendants(run.pid)
    ready = re.search(r"VELTRIX READY port=\d+ pid=(\d+)", (run_dir / "engine.log").read_text())
    assert ready is not None
    os.kill(int(ready.group(1)), signal.SIGKILL)
    killed_at = time.monotonic()
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 3
    assert "engine exited" in stderr
    assert time.monotonic() - killed_at < 15
    assert_all_gone(children)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "engine_died" and summary["requests"]["total"] > 0


def test_a_broken_invariant_exits_3_saying_what_differs(tmp_path: Path, engine_factory) -> None:
    """An engine that loses events: rows deleted behind its back while the load runs."""
    engine = engine_factory(db=tmp_path / "lossy.db")
    runs = tmp_path / "runs"
    runs.mkdir()
    run = start_run(
        runs, "--target", engine.url, "--scenario", "smoke", "--rate", "40", "--duration", "4s"
    )
    wait_for_load(runs, timeout=60)
    with sqlite3.connect(tmp_path / "lossy.db", timeout=10) as db:
        db.execute("DELETE FROM events WHERE rowid IN (SELECT rowid FROM events LIMIT 3)")
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 3
    assert "invariant broken" in stderr and "persisted" in stderr
    assert http("GET", f"{engine.url}/healthz")[0] == 200
