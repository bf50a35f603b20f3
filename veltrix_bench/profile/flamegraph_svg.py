"""Collapsed stacks to a static flame graph SVG: self-contained, opens offline, hover for figures.

Frames are merged by function (line numbers dropped) and coloured by the layer their file
belongs to, with the same rules as the layer split (layers.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from veltrix_bench.profile.folded import FoldedStack
from veltrix_bench.profile.layers import LayerRules

WIDTH = 1200
FRAME_HEIGHT = 17
MARGIN = 10
HEADER = 48
CHAR_WIDTH = 6.6  # 11px monospace, near enough to trim labels
MIN_WIDTH = 0.3  # narrower frames are left out, as flamegraph.pl does
COLOURS = {
    "handler": "#f0a150",
    "storage": "#6fa8dc",
    "http": "#8fc178",
    "other": "#b7b7b7",
    None: "#e8d6a0",  # frames no rule claims (standard library, other libraries)
}
LEGEND = (
    ("handler", "event handler"),
    ("storage", "storage"),
    ("http", "HTTP library"),
    ("other", "other engine code"),
    (None, "unclaimed (stdlib, ...)"),
)


@dataclass
class _Node:
    name: str
    layer: str | None
    count: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(stacks: list[FoldedStack], rules: LayerRules) -> _Node:
    root = _Node("all", None)
    for stack in stacks:
        root.count += stack.count
        node = root
        for frame in stack.frames:
            label = frame.label
            child = node.children.get(label)
            if child is None:
                child = node.children[label] = _Node(label, rules.frame_layer(frame))
            child.count += stack.count
            node = child
    return root


def flamegraph_svg(stacks: list[FoldedStack], rules: LayerRules, title: str) -> bytes:
    root = _tree(stacks, rules)
    levels = 1 + max((len(stack.frames) for stack in stacks), default=0)  # "all", then frames
    height = HEADER + levels * FRAME_HEIGHT + 2 * MARGIN
    total = max(root.count, 1)
    scale = (WIDTH - 2 * MARGIN) / total
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="11">',
        f'<rect width="{WIDTH}" height="{height}" fill="#fdfdf8"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    legend_x = MARGIN
    for layer, name in LEGEND:
        parts.append(
            f'<rect x="{legend_x}" y="30" width="10" height="10" fill="{COLOURS[layer]}"/>'
            f'<text x="{legend_x + 14}" y="39">{escape(name)}</text>'
        )
        legend_x += 24 + int(len(name) * CHAR_WIDTH)
    parts.append(
        f'<text x="{WIDTH - MARGIN}" y="39" text-anchor="end">{root.count} samples; '
        "width = share of samples, hover for figures</text>"
    )
    # Iterative walk: deep stacks must not hit Python's recursion limit.
    pending: list[tuple[_Node, float, int]] = [(root, MARGIN, 0)]
    while pending:
        node, x, level = pending.pop()
        width = node.count * scale
        if width < MIN_WIDTH:
            continue
        y = height - MARGIN - (level + 1) * FRAME_HEIGHT
        share = 100 * node.count / total
        tip = f"{node.name}: {node.count} samples ({share:.2f}%)"
        parts.append(
            f"<g><title>{escape(tip)}</title>"
            f'<rect x="{x:.2f}" y="{y}" width="{width:.2f}" height="{FRAME_HEIGHT - 1}" '
            f'fill="{COLOURS[node.layer]}" rx="2"/>'
        )
        fits = int((width - 6) / CHAR_WIDTH)
        if fits >= 3:
            label = node.name if len(node.name) <= fits else node.name[: fits - 2] + ".."
            parts.append(f'<text x="{x + 3:.2f}" y="{y + 12}">{escape(label)}</text>')
        parts.append("</g>")
        child_x = x
        for child in sorted(node.children.values(), key=lambda c: c.name):
            pending.append((child, child_x, level + 1))
            child_x += child.count * scale
    parts.append("</svg>")
    return "\n".join(parts).encode()
