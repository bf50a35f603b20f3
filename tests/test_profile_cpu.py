"""CPU profile: shares from collapsed stacks, the derived files, and py-spy failing to attach."""

from __future__ import annotations

import json
import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from msgspec import to_builtins

from veltrix_bench.errors import EXIT_RUN_FAILED
from veltrix_bench.profile import CaptureError, ProfileSession, render_profiles
from veltrix_bench.profile.cpu import analyse_stacks, without_profiler_threads
from veltrix_bench.profile.folded import read_folded
from veltrix_bench.profile.handler import engine_handler

LOOP = [
    "BaseEventLoop._run_once (asyncio/base_events.py:1890)",
    "Handle._run (asyncio/events.py:80)",
]
REQUEST = [*LOOP, "RequestHandler._handle_request (aiohttp/web_protocol.py:452)"]
HANDLER = [*REQUEST, "Engine._post_events (veltrix_bench/engine/server.py:95)"]
WRITER = [
    "Thread.run (threading.py:982)",
    "_worker (concurrent/futures/thread.py:83)",
    "_WorkItem.run (concurrent/futures/thread.py:58)",
    "Store.write (veltrix_bench/engine/storage.py:70)",
]
STACKS = [
    ([*HANDLER, "decode_events (veltrix_bench/engine/events.py:40)"], 30),
    ([*HANDLER, "BaseRequest.read (aiohttp/web_request.py:670)"], 10),
    ([*REQUEST, "Response._start (aiohttp/web_response.py:300)"], 20),
    ([*LOOP, "EpollSelector.select (selectors.py:468)"], 15),
    ([*WRITER, "Store._write_each (veltrix_bench/engine/storage.py:95)"], 25),
    (
        [
            "Thread.run (threading.py:982)",
            "WindowTracker._serve (veltrix_bench/profile/memray_window.py:1)",
        ],
        7,
    ),
]
FOLDED = "".join(f"{';'.join(frames)} {count}\n" for frames, count in STACKS)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    (tmp_path / "cpu.folded").write_text(FOLDED)
    return tmp_path


def test_handler_share_counts_samples_with_any_handler_frame(run_dir: Path) -> None:
    stacks, left_out = without_profiler_threads(read_folded(run_dir / "cpu.folded"))
    profile = analyse_stacks(stacks, engine_handler(), 100, 1.0, left_out)
    assert profile.samples == 100  # vbench's own memray thread (7 samples) is left out
    assert profile.left_out_samples == 7
    # _post_events (30 + 10) and the storage module, which HANDLER_FUNCTIONS names (25)
    assert profile.handler_samples == 65
    block = to_builtins(profile.summary_block())
    assert block["handler_share"] == 0.65
    assert block["share_by_layer"] == {"http": 0.3, "handler": 0.3, "storage": 0.25, "other": 0.15}
    assert block["top_self"][0] == {
        "function": "decode_events (veltrix_bench/engine/events.py)",
        "share": 0.3,
    }
    top_total = {entry["function"]: entry["share"] for entry in block["top_total"]}
    assert top_total["BaseEventLoop._run_once (asyncio/base_events.py)"] == 0.75
    assert top_total["Engine._post_events (veltrix_bench/engine/server.py)"] == 0.4
    assert "busy" in block["denominator"].lower()


def test_render_writes_svg_speedscope_and_the_summary_block(run_dir: Path) -> None:
    report = render_profiles(run_dir, acked_events=None)
    blocks = to_builtins(report.summary_blocks())
    assert blocks["memory"] is None and blocks["profiles_skipped"] == {}
    assert blocks["cpu"]["samples"] == 100
    ET.fromstring((run_dir / "cpu.svg").read_bytes())  # well-formed
    speedscope = json.loads((run_dir / "cpu.speedscope.json").read_bytes())
    profile = speedscope["profiles"][0]
    assert profile["type"] == "sampled" and sum(profile["weights"]) == 100
    frames = speedscope["shared"]["frames"]
    first = [frames[i]["name"] for i in profile["samples"][0]]
    assert first[0] == "BaseEventLoop._run_once" and first[-1] == "decode_events"  # root first


def test_truncated_folded_file_is_a_clear_error(run_dir: Path) -> None:
    text = (run_dir / "cpu.folded").read_text()
    (run_dir / "cpu.folded").write_text(text[: len(text) // 2])  # cut inside a line
    with pytest.raises(CaptureError) as caught:
        render_profiles(run_dir, acked_events=None)
    assert caught.value.exit_code == EXIT_RUN_FAILED
    assert "cpu.folded line" in caught.value.message and "\n" not in caught.value.message


def fake_pyspy(folder: Path, message: str) -> None:
    """A `py-spy` that fails the way a ptrace denial does, first on PATH."""
    script = folder / "py-spy"
    script.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_ptrace_denial_skips_the_cpu_profile_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_pyspy(
        bin_dir,
        "Permission Denied: Try running again with elevated permissions by going "
        '"sudo env PATH=$PATH !!"',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    session = ProfileSession(run_dir, {"cpu"})
    assert session.engine_wrapper() is None  # CPU only: the engine starts as usual
    session.begin_window(os.getpid())
    session.end_window()
    blocks = to_builtins(session.finish(acked_events=10).summary_blocks())
    assert blocks["cpu"] is None
    reason = blocks["profiles_skipped"]["cpu"]
    assert "ptrace" in reason and "SYS_PTRACE" in reason and "Permission Denied" in reason
    assert "\n" not in reason
    # The re-render sees the same skip, from the session's record.
    assert render_profiles(run_dir, 10).skipped == {"cpu": reason}


def test_other_pyspy_failures_are_reported_as_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_pyspy(tmp_path, "Error: Failed to find python version from target process")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    session = ProfileSession(tmp_path, {"cpu"})
    session.begin_window(os.getpid())
    reason = session.skipped["cpu"]
    assert "ptrace" not in reason and "Failed to find python version" in reason
