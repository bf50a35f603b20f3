"""Collapsed stacks to a speedscope file ("sampled" profile), viewable at speedscope.app."""

from __future__ import annotations

import json

from veltrix_bench.profile.folded import FoldedStack
from veltrix_bench.profile.frames import Frame

SCHEMA = "https://www.speedscope.app/file-format-schema.json"


def speedscope_json(stacks: list[FoldedStack], name: str) -> bytes:
    frames: list[Frame] = []
    index: dict[Frame, int] = {}
    samples: list[list[int]] = []
    weights: list[int] = []
    for stack in stacks:
        sample = []
        for frame in stack.frames:  # speedscope wants each stack root first, as folded has it
            if frame not in index:
                index[frame] = len(frames)
                frames.append(frame)
            sample.append(index[frame])
        samples.append(sample)
        weights.append(stack.count)
    document = {
        "$schema": SCHEMA,
        "shared": {
            "frames": [
                {"name": f.function, "file": f.file, **({"line": f.line} if f.line else {})}
                for f in frames
            ]
        },
        "profiles": [
            {
                "type": "sampled",
                "name": name,
                "unit": "none",  # weights are sample counts
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        ],
        "name": name,
        "activeProfileIndex": 0,
        "exporter": "vbench",
    }
    return json.dumps(document, separators=(",", ":")).encode()
