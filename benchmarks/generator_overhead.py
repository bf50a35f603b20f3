"""What vbench's recording and open-model scheduling cost, against plain Locust.

One fast target (benchmarks/_fast_target.py: the Veltrix API answered at once), the same
number of users, alternated A B, B A, … (the side that goes first rotates each round):
  A. plain Locust: `locust --headless`, FastHttpUser posting a join event in a loop, no wait;
  B. vbench: `vbench run --target … --rate R` (open model, R far above what one process can
     send, so every user sends back to back), every request scheduled, classified and
     recorded into HDR histograms, its body built by the player model.

Both sides are measured the same way, at the target: the events it answered in a steady
window (STEADY_START_S after the first one, STEADY_S long), so neither tool's own arithmetic
(ramp-up, tear-down, what counts as the duration) enters. On a machine with 2+ cores the
target is pinned to core 0 and the generator side to core 1 (vbench's CLI process with its
generator: the live view and polling are part of what vbench costs), so the two do not
trade cores with each other between rounds. The generator side's CPU over the window shows
that it is the ceiling (~100% of its core).

    python -m benchmarks.generator_overhead [--users 100] [--seconds 10] [--rounds 8]

Writes results/generator_overhead.md (everything it printed) and its table into
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import psutil

from benchmarks.harness import (
    REPO,
    pinned_cores,
    publish,
    script_parser,
    transcript,
    tree_cpu_seconds,
)

STEADY_START_S = 2.0
STEADY_S = 5.0

PLAIN_LOCUSTFILE = """
import itertools
from locust import FastHttpUser, constant, task

ids = itertools.count()

class Player(FastHttpUser):
    wait_time = constant(0)

    @task
    def join(self):
        n = next(ids)
        self.client.post("/v1/events", json={"id": f"p-{n}", "type": "join", "hunt": 1,
                                             "player": 1 + n % 2000}, name="POST join")
"""


@dataclass(frozen=True)
class Window:
    requests_per_s: float
    cpu_share: float  # the generator side's processes, share of one core


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_target(cores: set[int] | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._fast_target", str(port)], cwd=REPO
    )
    if cores:
        os.sched_setaffinity(process.pid, cores)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("fast target did not start")


def answered(url: str) -> int:
    with urllib.request.urlopen(f"{url}/v1/stats", timeout=5) as answer:
        return sum(json.loads(answer.read())["acknowledged"].values())


def steady_window(url: str, generator: subprocess.Popen[str]) -> Window:
    """Wait for the first answered event, then count answers over the steady window."""
    deadline = time.monotonic() + 60
    while answered(url) == 0:
        if generator.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the generator side sent nothing (exit {generator.poll()})")
        time.sleep(0.05)
    time.sleep(STEADY_START_S)
    root = psutil.Process(generator.pid)
    count0, cpu0, t0 = answered(url), tree_cpu_seconds(root), time.perf_counter()
    time.sleep(STEADY_S)
    count1, cpu1, t1 = answered(url), tree_cpu_seconds(root), time.perf_counter()
    return Window((count1 - count0) / (t1 - t0), (cpu1 - cpu0) / (t1 - t0))


def plain_command(url: str, users: int, seconds: int, scratch: Path) -> list[str]:
    locustfile = scratch / "plain_locustfile.py"
    locustfile.write_text(PLAIN_LOCUSTFILE)
    return [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users),
            "-r", str(users), "-t", f"{seconds}s", "--host", url, "--only-summary"]  # fmt: skip


def vbench_command(url: str, users: int, seconds: int, scratch: Path) -> list[str]:
    scenario = scratch / "overhead.toml"
    scenario.write_text(
        f'name = "overhead"\n[load]\nrate = 20000\nduration = "{seconds}s"\n'
        f'max_in_flight = {users}\ndrain = "2s"\n[world]\nhunts = 1\nplayers = 2000\n'
        "[mix]\ncheckin = 1\nsolve = 0\nhint = 0\nclaim = 0\nleaderboard = 0\nplayer = 0\n"
    )
    return [sys.executable, "-m", "veltrix_bench", "run", "--scenario", str(scenario),
            "--target", url, "--out", str(scratch / "runs")]  # fmt: skip


def measure(kind: str, users: int, seconds: int, scratch: Path) -> Window:
    cores = pinned_cores()
    target, url = start_target(cores[0] if cores else None)
    build = plain_command if kind == "plain" else vbench_command
    try:
        generator = subprocess.Popen(
            build(url, users, seconds, scratch),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cores[1])) if cores else None,
        )
        try:
            return steady_window(url, generator)
        finally:
            generator.wait(seconds + 60)
    finally:
        target.terminate()
        target.wait(10)


def report(runs: dict[str, list[Window]], args: argparse.Namespace) -> str:
    """The table benchmarks/README.md quotes, with its setting and the two ratios."""
    plain = [w.requests_per_s for w in runs["plain"]]
    ours = [w.requests_per_s for w in runs["vbench"]]
    per_round = [b / a for a, b in zip(plain, ours, strict=True)]
    cores = "target on core 0, generator side on core 1" if pinned_cores() else "unpinned"
    lines = [
        f"{args.rounds} rounds, sides alternated, {args.users} users, requests/s counted at "
        f"the target over {STEADY_S:g} s of each run's steady state; {cores}.",
        "",
        f"| generator | requests/s (median of {args.rounds}) | generator CPU (median) "
        "| per round |",
        "|---|---:|---:|---|",
    ]
    for kind, label in (("plain", "plain Locust FastHttpUser"),
                        ("vbench", "vbench (open model + HDR recording)")):  # fmt: skip
        rates = [w.requests_per_s for w in runs[kind]]
        cpu = median(w.cpu_share for w in runs[kind])
        lines.append(f"| {label}, {args.users} users | {median(rates):,.0f} | {cpu:.0%} | "
                     f"{', '.join(f'{v:,.0f}' for v in rates)} |")  # fmt: skip
    lines += [
        "",
        f"vbench / plain Locust: median of per-round ratios {median(per_round):.2f}x "
        f"(per round {', '.join(f'{r:.2f}' for r in per_round)}); "
        f"ratio of medians {median(ours) / median(plain):.2f}x (target >= 0.9x)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    if args.seconds < STEADY_START_S + STEADY_S + 1:
        parser.error(f"--seconds must be at least {STEADY_START_S + STEADY_S + 1:g}")
    runs: dict[str, list[Window]] = {"plain": [], "vbench": []}
    with transcript() as printed:
        with tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp)
            for round_index in range(args.rounds):
                order = ("plain", "vbench") if round_index % 2 == 0 else ("vbench", "plain")
                for kind in order:
                    window = measure(kind, args.users, args.seconds, scratch)
                    runs[kind].append(window)
                    print(f"round {round_index + 1} {kind:>6}: {window.requests_per_s:,.0f} "
                          f"req/s, generator side {window.cpu_share:.0%} of a core",
                          flush=True)  # fmt: skip
        table = report(runs, args)
        print(f"\n{table}")
    publish("generator_overhead", printed.getvalue(), table)


if __name__ == "__main__":
    main()
