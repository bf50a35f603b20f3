"""No child outlives vbench: whatever kills the parent, its children are gone within 5 s."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ORPHAN_DEADLINE_S = 5.0

# A parent that starts one child through lifeline.popen, prints the child's pid, and waits to
# be killed. argv: how it spawns (main | thread | gevent), the mechanism (signal | pipe) and
# what the child runs (python: vbench's own kind of child | foreign: a program like py-spy).
PARENT = """
import sys
spawn, mechanism, kind = sys.argv[1:4]
if spawn == "gevent":
    from gevent import monkey
    monkey.patch_all()
import threading, time
import gevent
from veltrix_bench import lifeline
if mechanism == "pipe":
    lifeline._prctl = None  # as on macOS
child = (
    [sys.executable, "-c", "import veltrix_bench, time; time.sleep(120)"]
    if kind == "python" else ["sleep", "120"]
)
if spawn == "thread":
    started = []
    asker = threading.Thread(target=lambda: started.append(lifeline.popen(child)))
    asker.start()
    asker.join()  # the thread that asked for the child is gone now
    process = started[0]
elif spawn == "gevent":
    process = gevent.spawn(lifeline.popen, child).get()  # from a greenlet, as Locust's master
else:
    process = lifeline.popen(child)
print(process.pid, flush=True)
time.sleep(120)
"""

CASES = [
    ("main", "signal", "python"),
    ("main", "signal", "foreign"),
    ("thread", "signal", "python"),
    ("thread", "signal", "foreign"),
    ("gevent", "signal", "foreign"),
    ("main", "pipe", "python"),
    ("thread", "pipe", "python"),
    ("gevent", "pipe", "python"),
]


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until_gone(processes: list[psutil.Process], within: float) -> list[psutil.Process]:
    """The processes still running after `within` seconds."""
    deadline = time.monotonic() + within
    alive = [p for p in processes if not gone(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if not gone(p)]
    return alive


@pytest.mark.parametrize(("spawn", "mechanism", "kind"), CASES)
def test_a_child_dies_with_its_parent_however_it_was_spawned(
    spawn: str, mechanism: str, kind: str
) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, spawn, mechanism, kind], stdout=subprocess.PIPE, text=True
    )
    child: psutil.Process | None = None
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        time.sleep(0.5)  # the thread that asked for it has long exited
        assert not gone(child), "the child died while its parent lived"
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        assert not wait_until_gone([child], ORPHAN_DEADLINE_S), "the child outlived its parent"
    finally:
        parent.kill()
        parent.wait(5)
        if child is not None and not gone(child):
            child.kill()


def test_a_child_that_inherits_another_process_lifeline_ignores_it() -> None:
    """A grandchild started without a lifeline inherits the variable but not the pipe."""
    code = "import os, veltrix_bench, threading; print(len(threading.enumerate()))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"VBENCH_LIFELINE": "0:1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"  # no watcher thread: fd 0 is not the pipe it names


# -- the real thing: kill -9 a `vbench run` mid-load ----------------------------------------


def _role(process: psutil.Process) -> str | None:
    try:
        line = " ".join(process.cmdline())
    except psutil.NoSuchProcess:
        return None
    for module, role in (
        ("veltrix_bench.load.worker", "worker"),
        ("veltrix_bench.load.generator", "generator"),
        ("veltrix_bench.engine", "engine"),
        ("py-spy", "py-spy"),
    ):
        if module in line:
            return role
    return None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--processes", "2"], {"engine": 1, "generator": 1, "worker": 2}),
        (["--profile", "all"], {"engine": 1, "generator": 1}),
    ],
    ids=["locust-workers", "profiled-engine"],
)
def test_kill_9_of_vbench_mid_load_leaves_no_child(
    tmp_path: Path, extra: list[str], expected: dict[str, int]
) -> None:
    vbench = subprocess.Popen(
        [sys.executable, "-m", "veltrix_bench", "run", "--out", str(tmp_path),
         "--duration", "30s", "--rate", "100", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            children = psutil.Process(vbench.pid).children(recursive=True)
            roles = [_role(child) for child in children]
            if all(roles.count(role) >= count for role, count in expected.items()) and any(
                (run_dir / "load-spec.json").exists() for run_dir in tmp_path.iterdir()
            ):
                break
            assert vbench.poll() is None, "vbench ended before the load started"
            time.sleep(0.2)
        else:
            pytest.fail(f"the load never started: {[_role(c) for c in children]}")
        time.sleep(2)  # mid-load: requests in flight, the engine's queue busy
        children = psutil.Process(vbench.pid).children(recursive=True)
        vbench.send_signal(signal.SIGKILL)
        vbench.wait(5)
        left = wait_until_gone(children, ORPHAN_DEADLINE_S)
        assert not left, f"orphans after {ORPHAN_DEADLINE_S} s: {[_role(p) for p in left]}"
    finally:
        vbench.kill()
        vbench.wait(5)
        for child in children:
            if not gone(child):
                child.kill()


def test_a_child_that_cannot_start_raises_in_the_thread_that_asked() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from veltrix_bench import lifeline

    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(lifeline.popen, ["/nonexistent/vbench-child"])
        with pytest.raises(FileNotFoundError):
            asked.result(timeout=10)
