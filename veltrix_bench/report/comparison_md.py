"""comparison.md: the verdict in words first, then the per-metric table."""

from __future__ import annotations

from veltrix_bench.models.comparison import Comparison
from veltrix_bench.report.formatting import code
from veltrix_bench.report.formatting import inert as _text
from veltrix_bench.report.formatting import interval as _interval
from veltrix_bench.report.formatting import short_number as _num


def render(comparison: Comparison) -> str:
    lines = [f"## vbench compare — scenario {code(comparison.scenario)}", ""]
    for pair in comparison.comparisons:
        lines.append(f"**{_text(pair.headline)}**")
        lines.append("")
    for side in comparison.sides:
        lost = f", {side.lost_events} with lost events" if side.lost_events else ""
        lines.append(f"- {_text(side.name)}: {side.trials} trials{lost}")
    lines.append("")
    for pair in comparison.comparisons:
        base, cand = _text(pair.baseline), _text(pair.candidate)
        lines += [
            f"### {cand} vs {base}",
            "",
            f"| metric | {base} (median) | {cand} (median) | ratio | 95% CI | p (Mann–Whitney) "
            "| verdict |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for row in pair.metrics:
            interval = _interval(row.ci_low, row.ci_high) + (
                f" paired ({row.paired_rounds} rounds)" if row.paired_rounds else ""
            )
            p_value = f"{row.p_value:.3f}" if row.p_value is not None else "–"
            lines.append(
                f"| {row.metric} | {_num(row.baseline_median)} | "
                f"{_num(row.candidate_median)} | {_num(row.ratio)} | {interval} | "
                f"{p_value} | {row.verdict} (±{row.threshold:.0%}) |"
            )
        lines.append("")
    lines.append(
        "Ratio = candidate / baseline. A difference is called only when the whole 95% bootstrap "
        "interval of the ratio of medians lies beyond the noise threshold. Trials run as "
        "interleaved rounds are paired (from 6 rounds on): the ratio is then the Hodges–Lehmann "
        "estimate over rounds and its interval the exact signed-rank one (marked 'paired')."
    )
    return "\n".join(lines) + "\n"
