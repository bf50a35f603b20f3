"""The gate's Markdown summary (what GitHub shows as the job summary)."""

from __future__ import annotations

from veltrix_bench.models.gate import GateResult
from veltrix_bench.report.formatting import inert as _text


def render(gate: GateResult) -> str:
    verdict = "✅ passed" if gate.passed else "❌ failed"
    lines = [
        f"## vbench gate {verdict}",
        "",
        f"{len(gate.checks)} checks, {gate.failed} failed — {_text(gate.source)}",
        "",
        "| check | result |",
        "|---|---|",
    ]
    lines += [f"| {_text(c.name)} | {_text(c.message)} |" for c in gate.checks]
    return "\n".join(lines) + "\n"
