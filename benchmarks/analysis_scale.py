"""Analysis at scale: a synthetic run directory of 10 million requests over 60 minutes of
per-second rows is analysed and rendered (summary.json, report.md, report.html).

Analysis never holds per-request rows: it reads HDR interval logs and per-second rows. The
synthetic run records 10 M latencies (lognormal around 5 ms, with a slow tail) into one
histogram per second, written as real HdrHistogram interval logs; building them is not
timed. What is timed is `vbench report RUN_DIR` in a fresh process, for wall time and peak
RSS (ru_maxrss of the child).

    python -m benchmarks.analysis_scale [--requests 10000000] [--seconds 3600]

Writes results/analysis_scale.md (everything it printed) and its table into
benchmarks/README.md.
"""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from hdrh.log import HistogramLogWriter

from benchmarks.harness import publish, script_parser, transcript
from veltrix_bench.hdr import new_histogram


def build_run_dir(path: Path, requests: int, seconds: int) -> None:
    rng = np.random.default_rng(7)
    per_second = requests // seconds
    start = time.time() - seconds
    logs = {name: (path / name).open("w") for name in ("latency.hlog", "service.hlog")}
    writers = {name: HistogramLogWriter(handle) for name, handle in logs.items()}
    for writer in writers.values():
        writer.output_log_format_version()
        writer.output_base_time(start * 1000)
        writer.output_legend()
    rows = []
    for second in range(seconds):
        # lognormal latencies (µs) around 5 ms, recorded as counts per distinct value
        samples = rng.lognormal(mean=np.log(5000), sigma=0.6, size=per_second).astype(np.int64)
        values, counts = np.unique(np.clip(samples, 1, 3_600_000_000), return_counts=True)
        for name, writer in writers.items():
            histogram = new_histogram()
            scale = 1.0 if name == "latency.hlog" else 0.9
            for value, count in zip(values.tolist(), counts.tolist(), strict=True):
                histogram.record_value(max(1, int(value * scale)), count)
            histogram.set_start_time_stamp(second * 1000.0)
            histogram.set_end_time_stamp((second + 1) * 1000.0)
            writer.output_interval_histogram(histogram, second, second + 1, 1000.0)
        p50, p90, p99 = np.percentile(samples, [50, 90, 99]) / 1000
        rows.append([second + 1, per_second, per_second, 0, 0, per_second, 40, 0, 0,
                     round(p50, 3), round(p90, 3), round(p99, 3), round(p50 * 0.9, 3),
                     round(p99 * 0.9, 3), 2, 120.0])  # fmt: skip
    for handle in logs.values():
        handle.close()
    with (path / "timeseries.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["t", "requests", "ok", "errors", "rejected", "target_rate", "in_flight",
                      "late_cap", "late_generator", "p50_ms", "p90_ms", "p99_ms",
                      "service_p50_ms", "service_p99_ms", "queue_depth",
                      "engine_rss_mb"])  # fmt: skip
        out.writerows(rows)
    total = per_second * seconds
    final = {
        "interrupted": False, "load_window": {"start": start, "end": start + seconds},
        "duration_s": float(seconds),
        "requests": {"total": total, "ok": total, "errors": 0, "rejected": 0},
        "scheduled": total, "started": total,
        "late_starts": {"in_flight_cap": 0, "generator": 0},
        "acked_by_type": {"checkin": total}, "sent_by_type": {"checkin": total},
        "wins_seen": {}, "drained": True, "unanswered": 0, "locust_p99_ms": None,
        "error_samples": [], "generator_cpu_share": 0.5,
    }  # fmt: skip
    stats = {"acknowledged": {"checkin": total}, "persisted": {"checkin": total},
             "treasures_won": 0}  # fmt: skip
    record = {
        "run_id": path.name, "started_at": "2026-01-01T00:00:00Z", "status": "complete",
        "scenario": "synthetic", "config": "synthetic", "target": "http://127.0.0.1:1",
        "profiled": False,
        "load": {"model": "open", "target_rate": per_second, "stages": [[seconds, per_second]],
                 "users": 1000, "processes": 1, "duration_s": seconds},
        "stats_before": {"acknowledged": {}, "persisted": {}, "treasures_won": 0},
        "stats_after": stats, "final": final, "warnings": [], "thresholds": [],
    }  # fmt: skip
    (path / "run.json").write_text(json.dumps(record))


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=int, default=3600)
    args = parser.parse_args()
    with transcript() as printed:
        table = measure(args.requests, args.seconds)
        print(table)
    publish("analysis_scale", printed.getvalue(), table)


def measure(requests: int, seconds: int) -> str:
    """Build the synthetic run directory, time `vbench report` on it; the table."""
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch) / "synthetic-run"
        run_dir.mkdir()
        began = time.perf_counter()
        build_run_dir(run_dir, requests, seconds)
        print(f"built synthetic run directory in {time.perf_counter() - began:.0f} s "
              f"({(run_dir / 'latency.hlog').stat().st_size / 1e6:.1f} MB "
              "latency.hlog)")  # fmt: skip
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "veltrix_bench", "report", str(run_dir)],
                       check=True, capture_output=True)  # fmt: skip
        wall = time.perf_counter() - began
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        summary = json.loads((run_dir / "summary.json").read_text())
    total = summary["requests"]["total"]
    return "\n".join([
        "| requests | seconds of rows | analyse + render wall time | peak RSS |",
        "|---:|---:|---:|---:|",
        f"| {total:,} | {seconds:,} | {wall:.1f} s | {peak_mb:.0f} MB |",
        "",
        f"targets: <= 10 s and <= 500 MB; p99 of the synthetic run: "
        f"{summary['latency_ms']['p99']} ms",
    ])  # fmt: skip


if __name__ == "__main__":
    main()
