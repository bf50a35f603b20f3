"""Every bad input a user can give any command ends in one line on stderr naming the file or
option and what was expected, with exit 2 (bad input) or 3 (the run or its files failed):
never a traceback, never a run started, never a result file rewritten."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.capacities import config, write_capacity
from veltrix_bench.cli import app

GOLDEN_RUNS = Path(__file__).parent / "golden" / "runs"


@dataclass(frozen=True)
class Case:
    args: str  # split on spaces; {name} is a path from the `inputs` fixture
    code: int
    says: str  # in the one line on stderr
    every_problem: tuple[str, ...] = ()  # several problems: each named, one line each


CASES = {
    # vbench run: files and folders
    "scenario is a directory": Case("run --scenario {dir_toml}", 2, "is a directory"),
    "scenario not UTF-8": Case("run --scenario {latin1_toml}", 2, "not UTF-8"),
    "scenario not TOML": Case("run --scenario {bad_toml}", 2, "not valid TOML"),
    "scenario unknown": Case("run --scenario nope", 2, "unknown scenario 'nope'"),
    "config is a directory": Case("run --config {dir_toml}", 2, "is a directory"),
    "config directory without .toml": Case("run --config {plain_dir}", 2, "is a directory"),
    "config not UTF-8": Case("run --config {latin1_toml}", 2, "not UTF-8"),
    "config unknown": Case("run --config fastest", 2, "no such preset or file"),
    "--out under a regular file": Case("run --out {file}/runs", 2, "--out"),
    "--out is a regular file": Case("run --out {file}", 2, "--out"),
    "--out unwritable": Case("run --out /proc/vbench-runs", 2, "--out /proc/vbench-runs"),
    "--junit under a regular file": Case("run --gate --junit {file}/j.xml", 2, "--junit"),
    "--junit is a directory": Case("run --gate --junit {plain_dir}", 2, "--junit"),
    "--junit unwritable": Case("run --gate --junit /proc/vbench.xml", 2, "--junit"),
    "threshold malformed": Case("run --gate --scenario {bad_threshold}", 2, "thresholds"),
    # vbench run: options
    "--duration not a duration": Case("run --duration 5x", 2, "--duration: '5x'"),
    "--duration infinite": Case("run --duration inf", 2, "finite"),
    "--worker-timeout zero": Case("run --worker-timeout 0", 2, "--worker-timeout"),
    "--on-worker-loss unknown": Case("run --on-worker-loss maybe", 2, "--on-worker-loss"),
    "--profile unknown": Case("run --profile gpu", 2, "--profile 'gpu'"),
    "--handler not a regex": Case("run --profile cpu --handler (", 2, "--handler '('"),
    "--rate not a number": Case("run --rate fast", 2, "--rate"),
    "--processes zero": Case("run --processes 0", 2, "--processes"),
    "--processes 100000": Case("run --processes 100000", 2, "--processes 100000: from 1 to 64"),
    "--expect-workers huge": Case("run --expect-workers 100000", 2, "--expect-workers 100000"),
    "--master-port too large": Case("run --master-port 99999", 2, "--master-port 99999"),
    "--master-bind not an address": Case("run --master-bind junk", 2, "--master-bind 'junk'"),
    "remote workers, embedded engine": Case(
        "run --expect-workers 1 --master-bind 0.0.0.0", 2, "--target http://ADDR:P"
    ),
    "--users 1e11": Case("run --users 1e11", 2, "--users"),
    "--rate with --users": Case("run --rate 5 --users 3", 2, "exclude each other"),
    "an unknown option": Case("run --speed 3", 2, "--speed"),
    "--target not http": Case("run --target ftp://127.0.0.1", 2, "expected a URL like"),
    "--target remote": Case("run --target http://10.0.0.1:80", 2, "not a loopback address"),
    "--target port not a number": Case("run --target http://127.0.0.1:abc", 2, "port"),
    "--target port too large": Case("run --target http://127.0.0.1:99999", 2, "port"),
    "--target read two ways": Case(
        "run --target http://loadtest.invalid\\@127.0.0.1:8080", 2, "--target"
    ),
    "--rate inf": Case("run --rate inf --duration 1s", 2, "--rate"),
    "--rate nan": Case("run --rate nan --duration 1s", 2, "--rate"),
    "--users beyond open files": Case("run --users 1000000 --duration 2s", 2, "--users"),
    "scenario rate 1e300": Case("run --scenario {huge_rate}", 2, "rate"),
    "scenario users 1e11": Case("run --scenario {many_users}", 2, "users"),
    "scenario with two bad keys": Case(
        "run --scenario {two_bad_keys}",
        2,
        "",
        every_problem=("'duration'", "'load.speed'"),
    ),  # fmt: skip
    # vbench report
    "report: no such directory": Case("report {tmp}/absent", 2, "not a run directory"),
    "report: no run.json": Case("report {plain_dir}", 2, "no run.json"),
    "report: run.json not JSON": Case("report {run_bad_record}", 2, "run.json"),
    "report: run.json another shape": Case("report {run_wrong_record}", 2, "run.json"),
    "report: run.json not UTF-8": Case("report {run_latin1_record}", 2, "run.json"),
    "report: hlog cut mid-line": Case("report {run_cut_hlog}", 3, "latency.hlog"),
    "report: hlog full of garbage": Case("report {run_garbage_hlog}", 3, "latency.hlog"),
    "report: hlog empty": Case("report {run_empty_hlog}", 3, "latency.hlog"),
    "report: hlog missing": Case("report {run_no_hlog}", 3, "latency.hlog"),
    "report: time series garbled": Case("report {run_bad_series}", 3, "timeseries.csv"),
    # vbench gate
    "gate: no such directory": Case("gate {tmp}/absent", 2, "not a run directory"),
    "gate: summary not JSON": Case("gate {run_bad_summary}", 2, "summary.json"),
    "gate: summary another shape": Case("gate {run_wrong_summary}", 2, "summary.json"),
    "gate: malformed check": Case("gate {run} --check p99<>3", 2, "p99<>3"),
    "gate: unknown metric": Case("gate {run} --check speed<3", 2, "unknown metric 'speed'"),
    "gate: --junit unwritable": Case("gate {run} --junit {file}/j.xml", 2, "--junit"),
    "gate: baseline alone": Case("gate {run} --baseline {tuned}", 2, "go together"),
    "gate: no bound": Case("gate --baseline {run} --candidate {tuned}", 2, "--max-regression"),
    "gate: bound not a fraction": Case(
        "gate --baseline {run} --candidate {tuned} --max-regression p99=lots", 2, "'lots'"
    ),
    "gate: bound not a number": Case(
        "gate --baseline {run} --candidate {tuned} --max-regression p99=nan", 2, "'nan'"
    ),
    "gate: bound negative": Case(
        "gate --baseline {run} --candidate {tuned} --max-regression p99=-10%", 2, "'-10%'"
    ),
    "gate: config against a run": Case(
        "gate --baseline {run} --candidate tuned --max-regression p99=10%", 2, "both"
    ),
    # vbench compare
    "compare: one run": Case("compare {run}", 2, "at least two"),
    "compare: one config": Case("compare tuned", 2, "at least two"),
    "compare: one config twice as runs": Case("compare {run} {run}", 2, "config 'default'"),
    "compare: a run and a config": Case("compare {run} tuned", 2, "not a mix"),
    "compare: summary not JSON": Case("compare {run_bad_summary} {tuned}", 2, "summary.json"),
    "compare: hlog garbage": Case("compare {run_garbage_hlog} {tuned}", 3, "latency.hlog"),
    "compare: threshold": Case("compare {run} {tuned} --threshold lots", 2, "--threshold"),
    "compare: threshold infinite": Case("compare {run} {tuned} --threshold inf", 2, "'inf'"),
    "compare: --metric-threshold negative": Case(
        "compare {run} {tuned} --metric-threshold p99=-5%", 2, "'-5%'"
    ),
    "compare: --out under a file": Case("compare {run} {tuned} --out {file}/x", 2, "--out"),
    # vbench capacity (SLOs without spaces: the table splits its arguments on spaces)
    "capacity: no --slo": Case("capacity tuned", 2, "at least one --slo"),
    "capacity: malformed --slo": Case("capacity --slo p99<>3", 2, "--slo: check 'p99<>3'"),
    "capacity: unknown --slo metric": Case("capacity --slo speed<3", 2, "unknown metric 'speed'"),
    "capacity: --step not a duration": Case("capacity --slo p99<50ms --step 5x", 2, "--step"),
    "capacity: --warmup not a duration": Case("capacity --slo p99<50ms --warmup x", 2, "--warmup"),
    "capacity: --resolution": Case("capacity --slo p99<50ms --resolution lots", 2, "--resolution"),
    "capacity: --resolution 100%": Case(
        "capacity --slo p99<50ms --resolution 100%", 2, "between 0 and 1"
    ),
    "capacity: --start below 1/s": Case("capacity --slo p99<50ms --start 0.5", 2, "start rate"),
    "capacity: --max-rate below --start": Case(
        "capacity --slo p99<50ms --start 100 --max-rate 50", 2, "maximum rate"
    ),
    "capacity: --max-rate inf": Case("capacity --slo p99<50ms --max-rate inf", 2, "--max-rate inf"),
    "capacity: --trials 0": Case("capacity --slo p99<50ms --trials 0", 2, "--trials"),
    "capacity: unknown config": Case("capacity fastest --slo p99<50ms", 2, "no such preset"),
    "capacity: unknown scenario": Case(
        "capacity --slo p99<50ms --scenario nope", 2, "unknown scenario 'nope'"
    ),
    "capacity: --target and a config": Case(
        "capacity tuned --slo p99<50ms --target http://127.0.0.1:9", 2, "no CONFIG"
    ),
    "capacity: --target remote": Case(
        "capacity --slo p99<50ms --target http://10.0.0.1:80", 2, "not a loopback address"
    ),
    "capacity: --out under a file": Case("capacity --slo p99<50ms --out {file}/x", 2, "--out"),
    "scenario: warm-up of a closed model": Case("run --scenario {closed_warmup}", 2, "'warmup'"),
    # vbench gate on a capacity directory
    "gate capacity: not a capacity check": Case(
        "gate {capacity} --check p99<50ms", 2, "gated on its capacity"
    ),
    "gate capacity: a unit": Case("gate {capacity} --check capacity>3000ms", 2, "bare number"),
    "gate capacity: no checks": Case("gate {capacity}", 2, "no checks"),
    "gate capacity: one config to regress": Case(
        "gate {capacity} --max-regression capacity=10%", 2, "two configs"
    ),
    "gate capacity: another metric's regression": Case(
        "gate {capacity} --max-regression p99=10%", 2, "capacity=10%"
    ),
    "gate capacity: --baseline": Case(
        "gate {capacity} --baseline a --candidate b --max-regression capacity=10%",
        2,
        "no --baseline",
    ),
    "gate capacity: capacity.json not JSON": Case(
        "gate {capacity_bad} --check capacity>1", 2, "capacity.json"
    ),
    # the other commands
    "profile: no run.json": Case("profile {plain_dir}", 2, "no run.json"),
    "profile: run.json not JSON": Case("profile {run_bad_record}", 2, "run.json"),
    "worker: not HOST:PORT": Case("worker --master nowhere", 2, "HOST:PORT"),
    "worker: port out of range": Case("worker --master 127.0.0.1:99999", 2, "HOST:PORT"),
    "engine serve: unknown config": Case("engine serve --config nope", 2, "no such preset"),
    "engine serve: port too large": Case("engine serve --port 99999", 2, "--port 99999"),
    "engine serve: port negative": Case("engine serve --port -1", 2, "--port -1"),
    "engine serve: config a directory": Case(
        "engine serve --config {dir_toml}", 2, "is a directory"
    ),
}


def copy_run(name: str, into: Path, golden: str = "default-1") -> Path:
    return Path(shutil.copytree(GOLDEN_RUNS / golden, into / name))


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """Files and run directories, good and broken, each named by what is wrong with it."""
    paths: dict[str, Path] = {"tmp": tmp_path, "out": tmp_path / "out"}
    paths["file"] = tmp_path / "a-file"
    paths["file"].write_text("not a folder\n")
    paths["plain_dir"] = tmp_path / "plain"
    paths["plain_dir"].mkdir()
    paths["dir_toml"] = tmp_path / "folder.toml"
    paths["dir_toml"].mkdir()
    toml = {
        "latin1_toml": b'name = "caf\xe9"\n',
        "bad_toml": b"[load\nrate = 5\n",
        "bad_threshold": b'name = "t"\n[thresholds]\nchecks = ["p99 <> 3"]\n',
        "huge_rate": b'name = "huge"\n[load]\nrate = 1e300\nduration = "1s"\n',
        "many_users": b'name = "many"\n[load]\nmodel = "closed"\nusers = 1e11\nduration = "1s"\n',
        "two_bad_keys": b'name = "x"\nduration = "1s"\n[load]\nspeed = 3\n',
        "closed_warmup": b'name = "c"\n[load]\nmodel = "closed"\nwarmup = "2s"\n',
    }
    for name, content in toml.items():
        paths[name] = tmp_path / f"{name}.toml"
        paths[name].write_bytes(content)
    paths["run"] = copy_run("run", tmp_path)
    paths["tuned"] = copy_run("tuned", tmp_path, "tuned")
    broken = {
        "run_bad_record": ("run.json", b"{not json"),
        "run_wrong_record": ("run.json", b'{"run_id": 5}'),
        "run_latin1_record": ("run.json", b'{"run_id": "caf\xe9"}'),
        "run_bad_summary": ("summary.json", b"{oops"),
        "run_wrong_summary": ("summary.json", b'{"schema": "vbench.summary/1", "requests": 1}'),
        "run_empty_hlog": ("latency.hlog", b""),
        "run_garbage_hlog": ("latency.hlog", b"no interval here\n\x00\x01 nor here\n"),
        "run_bad_series": ("timeseries.csv", b"t,requests,queue_depth\n1,lots,x\n"),
    }
    for name, (file_name, content) in broken.items():
        paths[name] = copy_run(name, tmp_path)
        (paths[name] / file_name).write_bytes(content)
    paths["run_cut_hlog"] = copy_run("run_cut_hlog", tmp_path)
    log = paths["run_cut_hlog"] / "latency.hlog"
    log.write_bytes(log.read_bytes()[:-120])
    paths["run_no_hlog"] = copy_run("run_no_hlog", tmp_path)
    (paths["run_no_hlog"] / "latency.hlog").unlink()
    paths["capacity"] = write_capacity(tmp_path / "capacity", config("tuned", 3980.0, 4150.0))
    paths["capacity_bad"] = tmp_path / "capacity-bad"
    paths["capacity_bad"].mkdir()
    (paths["capacity_bad"] / "capacity.json").write_bytes(b'{"schema": 1')
    return paths


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A bad input must be refused before anything starts: starting an engine or a load
    generator fails the test here instead of loading the machine (also when the error it
    raises is masked by one raised later, while the run writes what it measured)."""
    started: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        started.append(repr(args))
        raise AssertionError("a bad input got as far as starting a process")

    monkeypatch.setattr("veltrix_bench.run.orchestrator.launch_engine", refuse)
    monkeypatch.setattr("veltrix_bench.run.orchestrator.GeneratorProcess", refuse)
    yield
    assert not started, "a bad input got as far as starting a process"


def snapshot(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in root.rglob("summary.json")}


@pytest.mark.parametrize(
    "case",
    [pytest.param(case, id=name) for name, case in CASES.items()],
)
def test_a_bad_input_is_one_line_and_the_right_exit_code(
    case: Case, inputs: dict[str, Path], nothing_starts: None
) -> None:
    args = [part.format(**inputs) for part in case.args.split(" ")]
    if args[0] in ("run", "compare", "gate", "capacity") and "--out" not in args:
        args += ["--out", str(inputs["out"])]
    before = snapshot(inputs["tmp"])
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == case.code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if case.every_problem:
        assert len(lines) >= len(case.every_problem), lines
        for problem in case.every_problem:
            assert any(problem in line for line in lines), (problem, lines)
    else:
        assert len(lines) == 1, lines
        assert case.says in lines[0]
    assert snapshot(inputs["tmp"]) == before  # nothing measured was rewritten


def test_the_table_covers_at_least_forty_bad_inputs() -> None:
    assert len(CASES) >= 40
