"""What vbench's recording and open-model scheduling cost, against plain Locust.

One fast target (benchmarks/_fast_target.py: the Veltrix API answered at once), the same
number of users, alternated A B A B …:
  A. plain Locust: `locust --headless`, FastHttpUser posting a join event in a loop, no wait;
  B. vbench: `vbench run --target … --rate R` (open model, R far above what one process can
     send, so every user sends back to back), recording every request into HDR histograms.
Requests/s of each, and their ratio (target: vbench >= 0.9x plain Locust).

    python benchmarks/generator_overhead.py [--users 100] [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

HERE = Path(__file__).resolve().parent

PLAIN_LOCUSTFILE = '''
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
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_target() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(HERE / "_fast_target.py"), str(port)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("fast target did not start")


def plain_locust(url: str, users: int, seconds: int, scratch: Path) -> float:
    locustfile = scratch / "plain_locustfile.py"
    locustfile.write_text(PLAIN_LOCUSTFILE)
    prefix = scratch / "plain"
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users),
         "-r", str(users), "-t", f"{seconds}s", "--host", url, "--csv", str(prefix),
         "--only-summary"],
        capture_output=True, check=True,
    )  # fmt: skip
    with open(f"{prefix}_stats.csv") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return float(row["Requests/s"])
    raise RuntimeError("no aggregated row in Locust's stats")


def vbench(url: str, users: int, seconds: int, scratch: Path) -> tuple[float, dict]:
    scenario = scratch / "overhead.toml"
    scenario.write_text(
        f'name = "overhead"\n[load]\nrate = 20000\nduration = "{seconds}s"\n'
        f'max_in_flight = {users}\ndrain = "2s"\n[world]\nhunts = 1\nplayers = 2000\n'
        "[mix]\ncheckin = 1\nsolve = 0\nhint = 0\nclaim = 0\nleaderboard = 0\nplayer = 0\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "veltrix_bench", "run", "--scenario", str(scenario),
         "--target", url, "--out", str(scratch / "runs")],
        capture_output=True, text=True,
    )  # fmt: skip
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / "summary.json").read_text())
    return summary["requests"]["throughput_rps"], summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    plain, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for _ in range(args.rounds):
            for kind in ("plain", "vbench"):
                target, url = start_target()  # fresh target each time: no state carried over
                try:
                    if kind == "plain":
                        plain.append(plain_locust(url, args.users, args.seconds, scratch))
                    else:
                        rate, summary = vbench(url, args.users, args.seconds, scratch)
                        ours.append(rate)
                finally:
                    target.terminate()
                    target.wait(10)
                print(f"{kind:>6}: {(plain if kind == 'plain' else ours)[-1]:,.0f} req/s",
                      flush=True)  # fmt: skip
    ratio = median(ours) / median(plain)
    print(f"\n| generator | requests/s (median of {args.rounds}) | per round |")
    print("|---|---:|---|")
    print(f"| plain Locust FastHttpUser, {args.users} users | {median(plain):,.0f} | "
          f"{', '.join(f'{v:,.0f}' for v in plain)} |")  # fmt: skip
    print(f"| vbench (open model + HDR recording), {args.users} users | {median(ours):,.0f} | "
          f"{', '.join(f'{v:,.0f}' for v in ours)} |")  # fmt: skip
    print(f"\nvbench / plain Locust = {ratio:.2f}x (target >= 0.9x)")


if __name__ == "__main__":
    main()
