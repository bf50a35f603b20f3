"""The CPU profile's derived files from collapsed stacks: the flame graph SVG and speedscope."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from veltrix_bench.profile.flamegraph_svg import (
    COLOURS,
    FRAME_HEIGHT,
    MARGIN,
    WIDTH,
    flamegraph_svg,
)
from veltrix_bench.profile.folded import FoldedStack
from veltrix_bench.profile.frames import Frame
from veltrix_bench.profile.handler import engine_handler
from veltrix_bench.profile.layers import LayerRules
from veltrix_bench.profile.speedscope import speedscope_json

SVG = "{http://www.w3.org/2000/svg}"
LOOP = Frame("BaseEventLoop._run_once", "asyncio/base_events.py", 1890)
HANDLER = Frame("Engine._post_events", "veltrix_bench/engine/server.py", 95)
DECODE = Frame("decode_events", "veltrix_bench/engine/events.py", 40)
READ = Frame("BaseRequest.read", "aiohttp/web_request.py", 670)
STACKS = [
    FoldedStack((LOOP, HANDLER, DECODE), 30),
    FoldedStack((LOOP, HANDLER, READ), 10),
    FoldedStack((LOOP,), 60),
]


def frames_of(svg: bytes) -> dict[str, tuple[float, str]]:
    """Each drawn frame's tooltip name -> (width, fill)."""
    root = ET.fromstring(svg)
    drawn = {}
    for group in root.iter(f"{SVG}g"):
        title, rect = group.find(f"{SVG}title"), group.find(f"{SVG}rect")
        assert title is not None and title.text is not None and rect is not None
        drawn[title.text.split(": ")[0]] = (float(rect.get("width", 0)), rect.get("fill", ""))
    return drawn


def test_each_frame_is_as_wide_as_its_share_of_samples() -> None:
    drawn = frames_of(flamegraph_svg(STACKS, LayerRules(engine_handler()), "engine CPU"))
    full = WIDTH - 2 * MARGIN
    assert drawn["all"][0] == pytest.approx(full)
    assert drawn[LOOP.label][0] == pytest.approx(full)
    assert drawn[HANDLER.label][0] == pytest.approx(full * 0.4, abs=0.01)
    assert drawn[DECODE.label][0] == pytest.approx(full * 0.3, abs=0.01)
    assert drawn[READ.label][0] == pytest.approx(full * 0.1, abs=0.01)


def test_frames_are_coloured_by_layer() -> None:
    drawn = frames_of(flamegraph_svg(STACKS, LayerRules(engine_handler()), "engine CPU"))
    assert drawn[HANDLER.label][1] == COLOURS["handler"]
    assert drawn[READ.label][1] == COLOURS["http"]
    assert drawn[LOOP.label][1] == COLOURS[None]  # the standard library is claimed by none


def test_the_svg_is_as_tall_as_the_deepest_stack() -> None:
    root = ET.fromstring(flamegraph_svg(STACKS, LayerRules(engine_handler()), "t"))
    levels = 4  # "all", the loop, the handler, decode
    assert int(root.get("height", 0)) == 48 + levels * FRAME_HEIGHT + 2 * MARGIN


def test_markup_in_names_and_title_stays_text() -> None:
    hostile = Frame("<script>alert(1)</script>", "x.py", 1)
    svg = flamegraph_svg([FoldedStack((hostile,), 5)], LayerRules(engine_handler()), "<b>t</b>")
    root = ET.fromstring(svg)  # well-formed: nothing was injected
    assert b"<script>" not in svg and b"<b>" not in svg
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "<b>t</b>" in texts


def test_a_stack_deeper_than_the_recursion_limit_still_renders() -> None:
    deep = tuple(Frame(f"f{i}", "deep.py", i) for i in range(3000))
    ET.fromstring(flamegraph_svg([FoldedStack(deep, 1)], LayerRules(engine_handler()), "deep"))


def test_speedscope_holds_every_sample_root_first_with_shared_frames() -> None:
    document = json.loads(speedscope_json(STACKS, "engine CPU"))
    assert document["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = document["shared"]["frames"]
    assert [f["name"] for f in frames] == [
        "BaseEventLoop._run_once", "Engine._post_events", "decode_events", "BaseRequest.read",
    ]  # fmt: skip
    assert frames[0] == {"name": "BaseEventLoop._run_once", "file": "asyncio/base_events.py",
                         "line": 1890}  # fmt: skip
    (profile,) = document["profiles"]
    assert profile["type"] == "sampled" and profile["unit"] == "none"
    assert profile["samples"] == [[0, 1, 2], [0, 1, 3], [0]]
    assert profile["weights"] == [30, 10, 60]
    assert profile["endValue"] == 100 and profile["name"] == document["name"] == "engine CPU"


def test_speedscope_leaves_out_unknown_line_numbers() -> None:
    document = json.loads(speedscope_json([FoldedStack((Frame("f", "a.py"),), 1)], "p"))
    assert document["shared"]["frames"] == [{"name": "f", "file": "a.py"}]
