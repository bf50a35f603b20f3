"""Does `vbench gate` catch what it should without crying wolf, in three minutes a gate?

The targets of issue 17, each measured by gates run as a user runs them (`vbench gate` with its
defaults: the `gate` scenario, its rounds), the three kinds alternated within every repetition
so that whatever the machine does over the hours falls on all of them alike:

- A/A, `tuned` against `tuned`, `--max-regression p99=5%`: at most 1 regression called in 20;
- ~1.25x, `tuned` against `tuned` with a per-request fault, `p99=10%`: called in at least 19 of 20;
- ~1.10x, a smaller one, `p99=5%`: called in at least 9 of 10;
- one gate: at most 180 s of wall time.

The regressions are real changes of the engine's behaviour: by default the delay fault
(`faults.event_delay_ms`, a wait on an event-loop timer per POST: a handler that now waits on
something slower; whole milliseconds, 1 ms for ~1.10x and 2 ms for ~1.25x); `--fault cpu` uses
the CPU fault (`faults.event_cpu_ms`, a busy wait holding the loop: a handler that got slower),
whose effect on a trial's p99 is bimodal near the loop's saturation (benchmarks/README.md).
What a row reports is the p99 ratio the gates measured (each gate's Hodges-Lehmann ratio over
its rounds), not the delay; `--calibrate` runs a few gates per delay to find the delays that
give ~1.10x and ~1.25x. Each gate's evidence, with its per-round (baseline, candidate) p99s, is
kept in the JSON.

    python -m benchmarks.gate_power --calibrate                    # ~25 min: 1, 2, 3 ms
    python -m benchmarks.gate_power                                # ~2 hours, 50 gates
    python -m benchmarks.gate_power --reps 20 --resume   # the rest of an earlier --reps 10
    python -m benchmarks.gate_power --render benchmarks/results/gate_power.json
    python -m benchmarks.gate_power --reps 1 --trials 6 --duration 1s --out /tmp/gp.json  # smoke

Writes results/gate_power.json (every gate), results/gate_power.md (what it printed) and its
table into benchmarks/README.md (`--out` elsewhere: the .md beside the JSON, README untouched).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import msgspec
from scipy import stats

from benchmarks.harness import RESULTS, printed_path, publish, run_vbench, script_parser
from veltrix_bench.engine.config import load_config

NAME = "gate_power"
BASELINE = "tuned"
GATE_WALL_TARGET_S = 180.0


class Kind(msgspec.Struct, frozen=True):
    """One kind of gate: its candidate, its bound and its target."""

    label: str
    delay_ms: float  # 0: the candidate is the baseline itself (A/A)
    bound: float
    gates: int
    called_at_most: int | None = None  # the A/A target: false alarms
    called_at_least: int | None = None  # a regression's target: catches

    @property
    def target(self) -> str:
        if self.called_at_most is not None:
            return f"<= {self.called_at_most} of {self.gates}"
        return f">= {self.called_at_least} of {self.gates}"

    def met(self, called: int, judged: int) -> bool:
        if judged < self.gates:
            return False
        if self.called_at_most is not None:
            return called <= self.called_at_most
        return self.called_at_least is not None and called >= self.called_at_least


class GateRun(msgspec.Struct):
    """One `vbench gate`: its verdict, wall time, and the p99 check's evidence as gate.json
    has it (ratio, interval, method, confidence, per-round pairs)."""

    kind: str
    rep: int
    delay_ms: float
    bound: float
    exit_code: int
    wall_s: float
    load_before: float  # the machine's 1-minute load average when the gate started
    gate_json: str
    evidence: dict[str, Any] | None

    @property
    def called(self) -> bool:
        return self.exit_code == 1 and (self.evidence or {}).get("verdict") == "worse"

    @property
    def judged(self) -> bool:
        """The gate ran and reached a verdict on p99 (exit 3, or insufficient data: not)."""
        verdict = (self.evidence or {}).get("verdict")
        return self.exit_code in (0, 1) and verdict not in (None, "insufficient data")

    @property
    def ratio(self) -> float | None:
        ratio = (self.evidence or {}).get("ratio")
        return float(ratio) if ratio is not None else None


class Results(msgspec.Struct):
    settings: dict[str, str]
    kinds: list[Kind]
    gates: list[GateRun]


def kinds_for(args: argparse.Namespace) -> list[Kind]:
    """Issue 17's targets, scaled to --reps: at most 1 false alarm in 20, at least 19 of 20
    catches of ~1.25x, 9 of 10 of ~1.10x (half as many gates as of the others)."""
    reps, halves = args.reps, math.ceil(args.reps / 2)
    return [
        Kind("A/A", 0.0, 0.05, reps, called_at_most=math.ceil(reps / 20)),
        Kind("~1.25x", args.delay_125, 0.10, reps, called_at_least=reps - math.ceil(reps / 20)),
        Kind(
            "~1.10x", args.delay_110, 0.05, halves, called_at_least=halves - math.ceil(halves / 10)
        ),
    ]


FAULTS = {"cpu": "event_cpu_ms", "delay": "event_delay_ms"}
"""--fault: which engine fault makes the regression."""


def candidate_config(delay_ms: float, folder: Path, fault: str) -> str:
    """The baseline's preset itself, or a copy of it with the fault on."""
    if not delay_ms:
        return BASELINE
    path = folder / f"{BASELINE}-{fault}-{delay_ms:g}ms.toml"
    config = load_config(BASELINE).with_overrides(faults={FAULTS[fault]: delay_ms})
    path.write_text(config.to_toml())
    return str(path)


def run_gate(kind: Kind, rep: int, args: argparse.Namespace, scratch: Path) -> GateRun:
    candidate = candidate_config(kind.delay_ms, scratch, args.fault)
    overrides = []
    if args.trials is not None:
        overrides += ["--trials", str(args.trials)]
    if args.duration is not None:
        overrides += ["--duration", args.duration]
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    done = run_vbench(
        "gate", "--baseline", BASELINE, "--candidate", candidate,
        "--max-regression", f"p99={kind.bound:.0%}", "--out", str(args.gates_dir), *overrides,
    )  # fmt: skip
    wall = time.monotonic() - began
    evidence = None
    gate_json = ""
    try:
        path = printed_path(done)
        gate_json = str(path)
        checks = msgspec.json.decode(path.read_bytes())["checks"]
        evidence = next((c["evidence"] for c in checks if c["name"].startswith("p99 ")), None)
    except (RuntimeError, OSError, ValueError, KeyError):
        print(f"  gate printed no gate.json ({done.returncode}): {done.stderr[-500:]}")
    return GateRun(kind.label, rep, kind.delay_ms, kind.bound, done.returncode, round(wall, 1),
                   round(load_before, 2), gate_json, evidence)  # fmt: skip


def schedule(kinds: list[Kind], reps: int) -> list[tuple[int, Kind]]:
    """(rep, kind) in the order they run: every kind in every repetition it has a gate in, its
    gates spread evenly over the repetitions, the order within a repetition rotating."""
    order = []
    for rep in range(reps):
        due = [k for k in kinds if (rep * k.gates) // reps != ((rep + 1) * k.gates) // reps]
        shift = rep % len(due) if due else 0
        order += [(rep + 1, kind) for kind in due[shift:] + due[:shift]]
    return order


def describe(gate: GateRun) -> str:
    e = gate.evidence or {}
    ratio = "–" if gate.ratio is None else f"{gate.ratio:.3f}"
    low, high = e.get("ci_low"), e.get("ci_high")
    interval = f" (90% {low:.3f}-{high:.3f})" if low is not None and high is not None else ""
    verdict = "CALLED" if gate.called else "passed" if gate.exit_code == 0 else "NOT JUDGED"
    return (
        f"rep {gate.rep} {gate.kind} (+{gate.delay_ms:g} ms, bound {gate.bound:.0%}): {verdict} "
        f"exit {gate.exit_code}, ratio {ratio}{interval}, {e.get('paired_rounds', 0)} rounds, "
        f"{gate.wall_s:.0f} s, load {gate.load_before}"
    )


def table(results: Results) -> str:
    """The figures benchmarks/README.md quotes: per kind, what was measured and caught."""
    lines = [
        "| gate | bound | p99 ratio measured: median (range) | called | target | 95% CI of the "
        "call rate | wall time: median (max) |",
        "|---|---:|---|---:|---|---|---|",
    ]
    verdicts = []
    for kind in results.kinds:
        gates = [g for g in results.gates if g.kind == kind.label]
        judged = [g for g in gates if g.judged]
        called = sum(1 for g in judged if g.called)
        ratios = [g.ratio for g in judged if g.ratio is not None]
        walls = [g.wall_s for g in gates]
        measured = (f"{median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
                    if ratios else "–")  # fmt: skip
        if judged:
            ci = stats.binomtest(called, len(judged)).proportion_ci(confidence_level=0.95)
            rate = f"{called / len(judged):.0%} ({ci.low:.0%}-{ci.high:.0%})"
        else:
            rate = "–"
        wall = f"{median(walls):.0f} s ({max(walls):.0f} s)" if walls else "–"
        fault = results.settings.get("fault", "event_delay_ms")
        candidate = "tuned" if not kind.delay_ms else f"tuned + {kind.delay_ms:g} ms {fault}"
        unjudged = len(gates) - len(judged)
        called_text = f"{called}/{len(judged)}" + (f" ({unjudged} not judged)" if unjudged else "")
        lines.append(f"| {kind.label}: tuned vs {candidate} | {kind.bound:.0%} | {measured} | "
                     f"{called_text} | {kind.target} | {rate} | {wall} |")  # fmt: skip
        verdicts.append(f"{kind.label} {'met' if kind.met(called, len(judged)) else 'NOT met'}")
    walls = [g.wall_s for g in results.gates]
    if walls:
        within = "met" if max(walls) <= GATE_WALL_TARGET_S else "NOT met"
        verdicts.append(f"<= {GATE_WALL_TARGET_S:.0f} s a gate {within} (max {max(walls):.0f} s)")
    settings = ", ".join(f"{key} {value}" for key, value in results.settings.items())
    return "\n".join([*lines, "", f"Targets: {'; '.join(verdicts)}. Settings: {settings}."])


def calibrate(args: argparse.Namespace, scratch: Path) -> str:
    """A few gates per delay: the p99 ratio each delay gives, and the delays for ~1.10x, ~1.25x."""
    delays = [float(d) for d in args.delays.split(",")]
    rows = ["| delay | p99 ratios measured | median |", "|---:|---|---:|"]
    medians: list[tuple[float, float]] = []
    for delay in delays:
        kind = Kind(f"+{delay:g} ms", delay, 0.10, args.calibration_gates, called_at_least=0)
        gates = [run_gate(kind, rep, args, scratch) for rep in range(1, kind.gates + 1)]
        for gate in gates:
            print(describe(gate), flush=True)
        ratios = [g.ratio for g in gates if g.ratio is not None]
        if ratios:
            medians.append((delay, median(ratios)))
        listed = ", ".join(f"{r:.3f}" for r in ratios) or "–"
        rows.append(f"| {delay:g} ms | {listed} | {median(ratios):.3f} |" if ratios else
                    f"| {delay:g} ms | {listed} | – |")  # fmt: skip
    picks = [f"{target:.2f}x: {_delay_for(target, medians)}" for target in (1.10, 1.25)]
    return "\n".join([*rows, "", "delays by interpolation: " + "; ".join(picks)])


def _delay_for(target: float, medians: list[tuple[float, float]]) -> str:
    """The delay whose median ratio would be `target`, interpolated between measured ones."""
    for (d0, r0), (d1, r1) in zip(medians, medians[1:], strict=False):
        if min(r0, r1) <= target <= max(r0, r1) and r0 != r1:
            return f"--delay-{round(target * 100)} {d0 + (target - r0) * (d1 - d0) / (r1 - r0):.2f}"
    return "outside the delays measured"


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--reps", type=int, default=20, help="gates of A/A and of ~1.25x (20)")
    parser.add_argument("--fault", choices=sorted(FAULTS), default="delay", help="delay or cpu")
    parser.add_argument("--delay-110", type=float, default=1, help="fault ms for ~1.10x (1)")
    parser.add_argument("--delay-125", type=float, default=2, help="fault ms for ~1.25x (2)")
    parser.add_argument("--trials", type=int, default=None, help="rounds (default: the gate's)")
    parser.add_argument("--duration", default=None, help="trial window (default: the gate's)")
    parser.add_argument("--calibrate", action="store_true", help="gates per delay: which delays")
    parser.add_argument("--delays", default="1,2,3", help="with --calibrate, ms")
    parser.add_argument("--calibration-gates", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / f"{NAME}.json")
    parser.add_argument("--render", type=Path, default=None, help="the tables of an earlier JSON")
    parser.add_argument(
        "--resume", action="store_true",
        help="keep the gates already in --out and run the rest of --reps (same faults)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.render is not None:
        _publish(args.render, msgspec.json.decode(args.render.read_bytes(), type=Results))
        return
    with tempfile.TemporaryDirectory() as scratch:
        args.gates_dir = Path(scratch) / "gates"
        if args.calibrate:
            text = calibrate(args, Path(scratch))
            print(f"\n{text}")
            path = args.out.with_name(f"{args.out.stem}-calibration.md")
            path.write_text(text + "\n")
            return
        settings = {"rounds": str(args.trials or "the gate's default"),
                    "window": args.duration or "the gate scenario's",
                    "fault": FAULTS[args.fault]}  # fmt: skip
        results = Results(settings, kinds_for(args), [])
        if args.resume and args.out.exists():
            results.gates = _earlier_gates(args.out, results, parser)
        done = {(g.rep, g.kind) for g in results.gates}
        for rep, kind in schedule(results.kinds, args.reps):
            if (rep, kind.label) in done:
                continue
            results.gates.append(run_gate(kind, rep, args, Path(scratch)))
            print(describe(results.gates[-1]), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(msgspec.json.format(msgspec.json.encode(results)))
    _publish(args.out, results)


def _earlier_gates(raw: Path, results: Results, parser: argparse.ArgumentParser) -> list[GateRun]:
    """The gates of an earlier run to go on from: the same settings and faults, or an error.
    A shorter run's repetitions are the first ones of a longer run's `schedule`."""
    earlier = msgspec.json.decode(raw.read_bytes(), type=Results)

    def faults(r: Results) -> list[tuple[str, float, float]]:
        return [(k.label, k.delay_ms, k.bound) for k in r.kinds]

    if earlier.settings != results.settings or faults(earlier) != faults(results):
        parser.error(f"--resume: {raw} was run with other settings or faults")
    return earlier.gates


def _publish(raw: Path, results: Results) -> None:
    """results/gate_power.md (every gate, then the table) and the table in the README block;
    for a JSON kept elsewhere, the .md beside it and the README untouched."""
    figures = table(results)
    text = "\n".join(describe(gate) for gate in results.gates) + f"\n\n{figures}"
    print(f"\n{figures}")
    if raw.resolve().parent == RESULTS.resolve() and raw.stem == NAME:
        publish(NAME, text, figures)
    else:
        raw.with_suffix(".md").write_text(text + "\n")


if __name__ == "__main__":
    main()
