"""capacity.md: the answer first, then each config's steps, how it was measured, every trial."""

from __future__ import annotations

from veltrix_bench.analysis.capacity_result import per_second
from veltrix_bench.models.capacity import CapacityResult, CapacitySettings, ConfigCapacity
from veltrix_bench.report.formatting import code, inert
from veltrix_bench.report.formatting import short_number as _num


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _capacity(config: ConfigCapacity) -> str:
    if config.capacity is None:
        return "none"
    return ("≥ " if config.lower_bound else "") + per_second(config.capacity)


def method(settings: CapacitySettings) -> str:
    """How the search ran and what a passing step means, in one paragraph."""
    engine = (
        "a fresh engine and database for every trial (the database removed once judged)"
        if settings.fresh_engine_per_step
        else f"one engine ({settings.target}) for every step, never restarted"
    )
    return (
        f"Open model, scenario {settings.scenario}. Each trial offers its rate for "
        f"{settings.step_s:g} s after a {settings.warmup_s:g} s warm-up outside the window, on "
        f"{engine}. A step passes when every SLO holds on intended-time latency, at least "
        f"{settings.achieved_min:.0%} of the offered requests are answered ok (none left "
        f"{settings.drain_s:g} s after the window) and the load generator kept up; a step "
        f"passes overall on a majority of {settings.trials} trials, ending as soon as the "
        f"majority is certain. Rates grow ×{settings.growth:g} from {per_second(settings.start)} "
        f"until a step fails, then bisect to {settings.resolution:.0%}. Configs run interleaved "
        "at every step, the one that goes first rotating. A step the generator could not drive "
        "only bounds what can be measured: an answer it stops is a lower bound."
    )


def render(result: CapacityResult) -> str:
    settings = result.settings
    slos = " and ".join(code(slo) for slo in settings.slos)
    lines = [
        f"## vbench capacity — scenario {code(settings.scenario)}, {slos}",
        "",
        f"**{inert(result.headline)}**",
        "",
        "| config | capacity | lowest failing | stopped by | steps | trials |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for config in result.configs:
        trials = sum(len(step.trials) for step in config.steps)
        lines.append(
            f"| {inert(config.name)} | {_capacity(config)} | {per_second(config.lowest_failed)} "
            f"| {inert(config.limit_cause)} | {len(config.steps)} | {trials} |"
        )
    lines.append("")
    if result.notes:
        lines += [*(f"- {inert(note)}" for note in result.notes), ""]
    lines += [inert(method(settings)) + f" The search took {result.wall_s / 60:.1f} min.", ""]
    for config in result.configs:
        lines += [
            f"### {inert(config.name)}, step by step",
            "",
            "| step | offered | verdict | trials | p50 ms | p99 ms | answered ok | "
            "engine CPU µs/event | max queue |",
            "|---:|---:|---|---|---:|---:|---:|---:|---:|",
        ]
        for step in config.steps:
            tally = "/".join(trial.verdict for trial in step.trials)
            lines.append(
                f"| {step.round} | {per_second(step.rate)} | {step.verdict} | {tally} | "
                f"{_num(step.p50_ms)} | {_num(step.p99_ms)} | {_share(step.achieved_ratio)} | "
                f"{_num(step.engine_cpu_us_per_event)} | {_num(step.max_queue_depth)} |"
            )
        lines.append("")
    lines += [
        "### Every trial",
        "",
        "| config | offered | trial | verdict | p99 ms | answered ok | why not a pass | run |",
        "|---|---:|---:|---|---:|---:|---|---|",
    ]
    for config in result.configs:
        for step in config.steps:
            for number, trial in enumerate(step.trials, start=1):
                why = "; ".join(trial.reasons) or "–"
                lines.append(
                    f"| {inert(config.name)} | {per_second(step.rate)} | {number} | "
                    f"{trial.verdict} | {_num(trial.p99_ms)} | {_share(trial.achieved_ratio)} | "
                    f"{inert(why)} | {code(trial.run_dir)} |"
                )
    return "\n".join(lines) + "\n"
