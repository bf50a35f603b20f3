"""Remote workers as a deployment: engine and master on one host, `vbench worker` on another.

The two hosts are network namespaces joined by a veth pair on a /30 of their own (see
tests/netns.py); neither has any other route, so the load cannot leave them. The embedded
engine binds loopback, which the worker's host cannot reach, so the engine is started on the
master's host bound to the pair's address and `vbench run --target ... --allow-remote` loads
it, as a deployment with a separately run engine does.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from tests import netns
from tests.netns import MASTER_ADDRESS, HostPair
from veltrix_bench.engine.config import load_config
from veltrix_bench.engine.process import EngineProcess, start_engine
from veltrix_bench.errors import EXIT_INTERRUPTED
from veltrix_bench.hdr import new_histogram
from veltrix_bench.load.scenario import load_scenario
from veltrix_bench.rundir import RunDir

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parent.parent
SCENARIO = "smoke"
MASTER_PORT = 5557
"""`vbench run`'s default with --expect-workers; each namespace has ports of its own."""
RATE = "60"
RUN_TIMEOUT_S = 120.0
CLOCK_OFFSETS_S = (5.0, -5.0)
"""How far the two workers' wall clocks are from the master's (more than the window's lead)."""
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}


@pytest.fixture
def hosts() -> Iterator[HostPair]:
    """A master host and a worker host; every process in them stopped, and both deleted, after."""
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(reason)
    pair = HostPair(secrets.token_hex(4))
    try:
        try:
            pair.create()
        except netns.NamespaceError as exc:
            pytest.skip(f"cannot create network namespaces here: {exc}")
        yield pair
    finally:
        pair.close()


@pytest.fixture
def engine(hosts: HostPair, tmp_path: Path) -> EngineProcess:
    """The reference engine on the master's host, listening on the pair's address."""
    world = load_scenario(SCENARIO).world.model_dump()
    config_file = tmp_path / "engine.toml"
    config_file.write_text(load_config("tuned").with_overrides(world=world).to_toml())
    started = start_engine(
        config_file,
        tmp_path / "engine.db",
        tmp_path / "engine.log",
        host=MASTER_ADDRESS,
        wrapper=hosts.master.command([sys.executable]),
    )
    hosts.adopt(started.process)
    return started


class Run:
    """`vbench run` on the master's host; its output goes to files so it can be read live."""

    def __init__(self, hosts: HostPair, folder: Path, options: list[str]) -> None:
        self.stdout_path, self.stderr_path = folder / "run.out", folder / "run.err"
        command = [sys.executable, "-m", "veltrix_bench", "run", "--scenario", SCENARIO,
                   "--rate", RATE, "--out", str(folder / "reports"), *options]  # fmt: skip
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.process = hosts.start(hosts.master, command, stdout=out, stderr=err)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def finish(self) -> int:
        return self.process.wait(RUN_TIMEOUT_S)

    @property
    def run_dir(self) -> RunDir:
        return RunDir(Path(self.stdout.strip().splitlines()[-1]))

    def summary(self) -> dict[str, Any]:
        return dict(json.loads(self.run_dir.summary.read_text()))


def start_run(hosts: HostPair, engine: EngineProcess, folder: Path, *options: str) -> Run:
    return Run(hosts, folder, ["--target", engine.url, "--allow-remote", *options])


def start_worker(
    hosts: HostPair, log: Path, *, keep: Path | None = None, clock_offset: float = 0.0
) -> subprocess.Popen[Any]:
    """`vbench worker --master ADDRESS:PORT` on the worker's host; with `keep` or
    `clock_offset`, the same worker instrumented (tests/instrumented_worker.py)."""
    worker = ["veltrix_bench", "worker"]
    if keep is not None or clock_offset:
        worker = ["tests.instrumented_worker", f"--clock-offset={clock_offset}"]
        worker += [f"--keep={keep}"] if keep is not None else []
    with log.open("a") as stderr:
        return hosts.start(
            hosts.worker,
            [sys.executable, "-m", *worker, "--master", f"{MASTER_ADDRESS}:{MASTER_PORT}"],
            cwd=REPOSITORY,
            stderr=stderr,
        )


def engine_stats(hosts: HostPair, engine: EngineProcess) -> dict[str, Any]:
    """/v1/stats, asked from the master's host (the only place the engine can be reached)."""
    url = f"{engine.url}/v1/stats"
    fetch = f"import urllib.request; print(urllib.request.urlopen({url!r}).read().decode())"
    done = subprocess.run(
        hosts.master.command([sys.executable, "-c", fetch]),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def wait_for(done: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def logged_total(path: Path) -> HdrHistogram:
    """Every interval of an HdrHistogram interval log, added up."""
    reader = HistogramLogReader(str(path), new_histogram())
    total = new_histogram()
    while (interval := reader.get_next_interval_histogram()) is not None:
        total.add(interval)
    return total


def counts(histogram: HdrHistogram) -> np.ndarray[Any, Any]:
    return np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len].copy()


def assert_summary_is_the_histogram(figures: dict[str, float], histogram: HdrHistogram) -> None:
    """The summary's percentiles are the histogram's, to the microsecond (HdrHistogram's own
    answers, not vbench's)."""
    for key, percentile in PERCENTILES.items():
        assert round(figures[key] * 1000) == histogram.get_value_at_percentile(percentile), key
    assert round(figures["max"] * 1000) == histogram.get_max_value()


def assert_merged_exactly(run_dir: RunDir, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """From the run directory alone: the totals are the sums of the workers' shares, and the
    per-second merge in the .hlog files and the whole-run merge in summary.json (two paths
    through the master) hold the same samples. The workers' shares are returned."""
    final = json.loads(run_dir.record.read_text())["final"]
    workers = summary["load"]["workers"]
    assert workers == final["workers"]
    for key in ("total", "ok", "errors", "rejected"):
        shares = sum(worker["requests"][key] for worker in workers)
        assert summary["requests"][key] == final["requests"][key] == shares, key
    latency, service = logged_total(run_dir.latency_log), logged_total(run_dir.service_log)
    assert latency.get_total_count() == service.get_total_count() == summary["requests"]["total"]
    assert_summary_is_the_histogram(summary["latency_ms"], latency)
    assert_summary_is_the_histogram(summary["service_time_ms"], service)
    return list(workers)


def pid_in(share: dict[str, Any]) -> int:
    """The pid in a worker's name, `worker 1 (HOST pid PID)`."""
    return int(share["name"].rsplit(" pid ", 1)[1].rstrip(")"))


def test_the_master_waits_for_remote_workers_and_merges_their_shares_exactly(
    hosts: HostPair, engine: EngineProcess, tmp_path: Path
) -> None:
    run = start_run(hosts, engine, tmp_path, "--duration", "3s", "--expect-workers", "2",
                    "--master-bind", MASTER_ADDRESS)  # fmt: skip
    wait_for(lambda: hosts.master.listening(MASTER_PORT), 60, "the master to listen")
    time.sleep(2.0)
    assert run.process.poll() is None, run.stderr
    assert not any(engine_stats(hosts, engine)["acknowledged"].values()), "load before workers"

    # other machines keep their own time: one worker's clock runs ahead, the other's behind
    keep = tmp_path / "kept"
    keep.mkdir()
    workers = [
        start_worker(hosts, tmp_path / f"worker-{n}.log", keep=keep, clock_offset=offset)
        for n, offset in enumerate(CLOCK_OFFSETS_S)
    ]
    assert run.finish() == 0, run.stderr
    for worker in workers:
        assert worker.wait(30) == 0

    summary = run.summary()
    shares = summary["load"]["workers"]
    assert summary["load"]["processes"] == len(shares) == 2
    # `ip netns exec` execs, so the pid started is the worker's own
    assert sorted(pid_in(share) for share in shares) == sorted(w.pid for w in workers)
    assert all(share["lost"] is None for share in shares)
    # both offered their whole share in the master's window, whatever their clocks said
    scheduled = json.loads(run.run_dir.record.read_text())["final"]["scheduled"]
    for share in shares:
        assert share["requests"]["total"] >= 0.8 * scheduled / 2, (scheduled, share)
    assert summary["latency_ms"]["max"] < 2000, "a worker opened its window early"
    assert all(summary["invariants"].values()) and summary["invariants_not_applicable"] is None
    assert_merged_exactly(run.run_dir, summary)

    # each worker's own record (kept on its side) adds up to the master's merge, bucket by bucket
    logs = {"latency": run.run_dir.latency_log, "service": run.run_dir.service_log}
    for name, log in logs.items():
        recorded = new_histogram()
        for worker in workers:
            recorded.decode_and_add((keep / f"{worker.pid}.{name}").read_bytes())
        assert recorded.get_total_count() == summary["requests"]["total"]
        assert np.array_equal(counts(recorded), counts(logged_total(log))), name


@pytest.mark.parametrize(
    ("master_bind", "worker_comes"),
    [(MASTER_ADDRESS, False), ("127.0.0.1", True)],
    ids=["no-worker-comes", "master-bound-to-loopback"],
)
def test_a_worker_that_never_comes_times_out_naming_the_address_to_reach(
    hosts: HostPair, engine: EngineProcess, tmp_path: Path, master_bind: str, worker_comes: bool
) -> None:
    run = start_run(hosts, engine, tmp_path, "--duration", "3s", "--expect-workers", "1",
                    "--master-bind", master_bind, "--worker-timeout", "3s")  # fmt: skip
    worker = start_worker(hosts, tmp_path / "worker.log") if worker_comes else None
    assert run.finish() == 3, run.stderr
    message = " ".join(run.stderr.split())
    assert (
        f"0 of 1 workers connected to the master at {master_bind}:{MASTER_PORT} within 3 s"
        in message
    )
    assert f"vbench worker --master HOST:{MASTER_PORT}" in message
    assert "give --master-bind an address they can reach" in message
    assert run.summary()["requests"]["total"] == 0
    assert not any(engine_stats(hosts, engine)["acknowledged"].values())
    if worker is not None:
        # still trying to connect: it says where to, and a SIGTERM ends it at once
        assert worker.poll() is None
        worker.terminate()
        assert worker.wait(5) == EXIT_INTERRUPTED
        log = (tmp_path / "worker.log").read_text()
        assert f"connecting to the master at {MASTER_ADDRESS}:{MASTER_PORT}" in log
        assert f"no answer from the master at {MASTER_ADDRESS}:{MASTER_PORT}" in log


@pytest.mark.parametrize("on_loss", ["fail", "continue"])
def test_a_remote_worker_killed_mid_run_is_named(
    hosts: HostPair, engine: EngineProcess, tmp_path: Path, on_loss: str
) -> None:
    run = start_run(hosts, engine, tmp_path, "--duration", "8s", "--expect-workers", "2",
                    "--master-bind", MASTER_ADDRESS, "--on-worker-loss", on_loss)  # fmt: skip
    survivor, victim = (start_worker(hosts, tmp_path / f"worker-{n}.log") for n in range(2))
    wait_for(lambda: "load running" in run.stdout, 60, "the load window")
    time.sleep(1.5)
    victim.kill()
    code = run.finish()

    summary = run.summary()
    shares = assert_merged_exactly(run.run_dir, summary)
    (lost,) = [share for share in shares if share["lost"] is not None]
    assert pid_in(lost) == victim.pid and lost["lost"].startswith(f"{lost['name']} lost ")
    assert lost["requests"]["total"] > 0  # the seconds it reported before it went count
    assert summary["invariants_not_applicable"] is not None
    if on_loss == "fail":
        assert code == 3, run.stderr
        assert f"pid {victim.pid})" in run.stderr and "--on-worker-loss fail" in run.stderr
        assert summary["status"] == "failed"
        assert summary["load"]["duration_s"] < 8
    else:
        assert code == 0, run.stderr
        assert summary["status"] == "complete"
        assert summary["load"]["duration_s"] >= 7.9
        assert any(lost["lost"] in warning for warning in summary["warnings"])
        (kept,) = [share for share in shares if share["lost"] is None]
        assert kept["requests"]["total"] > lost["requests"]["total"]
    assert survivor.wait(30) == 0
