"""Windowed memray captures: only the window is counted, and damaged captures are clear errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from msgspec import to_builtins

from veltrix_bench.errors import EXIT_RUN_FAILED
from veltrix_bench.profile import CaptureError, render_profiles
from veltrix_bench.profile.handler import engine_handler
from veltrix_bench.profile.layers import LayerRules
from veltrix_bench.profile.memory import AllocationTally, tally_capture
from veltrix_bench.profile.memray_window import WindowState

IN_WINDOW = 20_000
OUTSIDE = 50_000

# A program that allocates before, inside and after its own window, signalling itself the way
# the session signals the engine.
PROGRAM = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from veltrix_bench.profile.memray_window import START_SIGNAL, STOP_SIGNAL, WindowState

    capture, count, outside = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

    def wait_for(field):
        while getattr(WindowState.read(capture), field, None) is None:
            time.sleep(0.005)

    def make_objects(n):
        made = []
        for _ in range(n):
            made.append(object())
        return made

    def before_the_window(n):
        return make_objects(n)

    def inside_the_window(n):
        return make_objects(n)

    def after_the_window(n):
        return make_objects(n)

    before = before_the_window(outside)
    os.kill(os.getpid(), START_SIGNAL)
    wait_for("started_at")
    inside = inside_the_window(count)
    os.kill(os.getpid(), STOP_SIGNAL)
    wait_for("stopped_at")
    after = after_the_window(outside)
    """
)


@pytest.fixture(scope="module")
def capture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("capture")
    (folder / "window_program.py").write_text(PROGRAM)
    capture = folder / "memray.bin"
    command = [
        sys.executable, "-m", "veltrix_bench.profile.memray_launch", "--output", str(capture),
        "-m", "window_program", str(capture), str(IN_WINDOW), str(OUTSIDE),
    ]  # fmt: skip
    subprocess.run(command, cwd=folder, check=True, timeout=60)
    return folder


def tally(folder: Path) -> AllocationTally:
    return tally_capture(folder / "memray.bin", LayerRules(engine_handler()))


def copy_of(capture_dir: Path, tmp_path: Path) -> Path:
    for name in ("memray.bin", "memray.bin.window.json"):
        shutil.copy(capture_dir / name, tmp_path / name)
    return tmp_path


def callers(folder: Path) -> set[str]:
    """The functions of the program that appear on any stack in the capture."""
    from memray import FileReader

    names: set[str] = set()
    with FileReader(folder / "memray.bin") as reader:
        for record in reader.get_high_watermark_allocation_records(merge_threads=False):
            names.update(function for function, _, _ in record.stack_trace(100))
        for record in reader.get_temporary_allocation_records(threshold=10**9):
            names.update(function for function, _, _ in record.stack_trace(100))
    return names


def test_only_allocations_inside_the_window_are_counted(capture_dir: Path) -> None:
    result = tally(capture_dir)
    seen = callers(capture_dir)
    assert "inside_the_window" in seen
    assert "before_the_window" not in seen and "after_the_window" not in seen
    # The objects, the loop's ints and the list's growth; nothing from before or after.
    assert IN_WINDOW <= result.allocations < IN_WINDOW * 4 + 1_000
    assert result.left_out > 0  # the tracking thread's own
    assert result.window.stopped_by == "signal"
    assert 0 < result.window_s < 30


def test_counts_agree_exactly_with_memrays_own_statistics(capture_dir: Path) -> None:
    from memray._memray import compute_statistics

    result = tally(capture_dir)
    stats = compute_statistics(str(capture_dir / "memray.bin"))
    assert result.allocations + result.left_out == stats.total_num_allocations


def test_memory_block_per_event_and_layers_add_up(capture_dir: Path) -> None:
    from veltrix_bench.profile.memory import MemoryProfile

    block = to_builtins(MemoryProfile(tally(capture_dir), acked_events=100).summary_block())
    assert block["allocations_per_event"] == round(block["allocations"] / 100, 2)
    assert sum(block["allocations_by_layer"].values()) == block["allocations"]
    assert set(block["per_event_by_layer"]) == {"http", "handler", "storage", "other"}
    assert block["top_by_count"][0]["function"] == "make_objects"
    assert len(block["top_by_size"]) <= 10
    assert "signals" in block["how_counted"]


def test_truncated_capture_is_a_clear_error(capture_dir: Path, tmp_path: Path) -> None:
    folder = copy_of(capture_dir, tmp_path)
    capture = folder / "memray.bin"
    data = capture.read_bytes()
    capture.write_bytes(data[: len(data) // 2])
    with pytest.raises(CaptureError) as caught:
        render_profiles(folder, acked_events=100)
    assert caught.value.exit_code == EXIT_RUN_FAILED
    assert "truncated" in caught.value.message and "\n" not in caught.value.message


def test_unreadable_capture_is_a_clear_error(capture_dir: Path, tmp_path: Path) -> None:
    folder = copy_of(capture_dir, tmp_path)
    capture = folder / "memray.bin"
    capture.write_bytes(b"\0" * capture.stat().st_size)  # right size, wrong content
    with pytest.raises(CaptureError, match="cannot read memray.bin"):
        tally(folder)


def test_capture_never_finalized_is_a_clear_error(capture_dir: Path, tmp_path: Path) -> None:
    folder = copy_of(capture_dir, tmp_path)
    state_path = WindowState.path_for(folder / "memray.bin")
    state = json.loads(state_path.read_text())
    state.update(stopped_at=None, stopped_by=None, capture_bytes=None)
    state_path.write_text(json.dumps(state))
    with pytest.raises(CaptureError, match="never finalized"):
        tally(folder)


def test_capture_without_its_window_record_is_refused(capture_dir: Path, tmp_path: Path) -> None:
    folder = copy_of(capture_dir, tmp_path)
    WindowState.path_for(folder / "memray.bin").unlink()
    with pytest.raises(CaptureError, match="not written by vbench"):
        tally(folder)


def test_lenient_render_turns_a_bad_capture_into_a_skip(capture_dir: Path, tmp_path: Path) -> None:
    folder = copy_of(capture_dir, tmp_path)
    (folder / "memray.bin").write_bytes(b"")
    report = render_profiles(folder, acked_events=100, strict=False)
    assert report.memory is None
    assert "truncated" in report.skipped["memory"]


def test_memray_unavailable_skips_the_memory_profile_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from veltrix_bench.profile import ProfileSession

    monkeypatch.setitem(sys.modules, "memray", None)  # `import memray` now fails
    session = ProfileSession(tmp_path, {"memory"})
    assert session.engine_wrapper() is None  # the engine starts without memray
    session.begin_window(12345)  # not signalled: nothing is tracking
    blocks = to_builtins(session.finish(acked_events=10).summary_blocks())
    assert blocks["memory"] is None
    assert "memray is not available" in blocks["profiles_skipped"]["memory"]
