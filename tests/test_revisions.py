"""Gates between revisions of the engine's code: each commit in a git worktree and a venv of its
own, cached by commit; a commit that slows the event handler is caught, and a revision against
itself passes. Everything happens in a temporary repository holding a copy of this one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from veltrix_bench.errors import RunFailed, UsageError
from veltrix_bench.run.revision_env import revision_python, unmet_requirements
from veltrix_bench.run.revisions import checkout, commit_of, repository, working_tree

HERE = Path(__file__).resolve().parents[1]
VBENCH = Path(sys.executable).parent / "vbench"  # this checkout's CLI, wherever it runs
HANDLER = "    async def post_events(self, request: web.Request) -> web.Response:\n"
DELAY = "        await asyncio.sleep(0.02)  # the regression the gate must catch\n"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=vbench", "-c", "user.email=vbench@test",
         *args],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding this checkout's files (as they are now), one commit."""
    copy = tmp_path / "repo"
    listed = subprocess.run(
        ["git", "-C", str(HERE), "ls-files", "-co", "--exclude-standard", "-z"],
        capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = HERE / name
        if name.startswith("reports/") or not source.is_file():
            continue
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, copy / name)
    git(copy, "init", "-q")
    git(copy, "add", "-A")
    git(copy, "commit", "-qm", "base")
    return copy


def vbench(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VBENCH), *args],
        cwd=cwd, capture_output=True, text=True, timeout=900, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip


# -- naming revisions -----------------------------------------------------------------------


def test_a_ref_that_names_no_commit_exits_2(repo: Path, tmp_path: Path) -> None:
    done = vbench(
        repo, "gate", "--baseline-ref", "no-such-branch", "--max-regression", "p50=10%",
        "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--baseline-ref 'no-such-branch': no such commit" in done.stderr
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_revisions_need_the_engines_repository(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(UsageError, match="needs the engine's git repository"):
        repository(outside, "--baseline-ref")
    done = vbench(outside, "compare", "tuned", "--baseline-ref", "HEAD", "--out", str(tmp_path))
    assert done.returncode == 2 and "git repository" in done.stderr


def said(console: Console) -> int:
    return console.export_text(clear=False).count("checking out")


def test_a_commit_is_checked_out_once_and_found_again(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    console = Console(record=True, width=200)
    first = checkout(repo, "HEAD", "--baseline-ref", cache, console)
    assert first.commit == commit_of(repo, "HEAD", "x") and first.label.startswith("HEAD@")
    assert first.tree == cache / first.commit / "src" and (first.tree / "pyproject.toml").exists()
    assert said(console) == 1
    again = checkout(repo, first.commit, "--baseline-ref", cache, console)
    assert again.python == first.python and said(console) == 1
    assert (again.label, again.description) == (first.commit[:12], f"commit {first.commit}")
    assert first.description == f"HEAD (commit {first.commit})"
    # a cached tree someone changed is not that commit any more: checked out afresh
    (first.tree / "veltrix_bench/engine/server.py").write_text("broken = True\n")
    checkout(repo, "HEAD", "--baseline-ref", cache, console)
    assert said(console) == 2
    assert (
        "broken = True" not in (first.tree / "veltrix_bench" / "engine" / "server.py").read_text()
    )


def test_the_working_tree_says_when_it_has_uncommitted_changes(repo: Path, tmp_path: Path) -> None:
    clean = working_tree(repo, tmp_path / "cache", Console())
    assert clean.label == f"working tree@{clean.commit[:12]}" and clean.tree == repo
    (repo / "README.md").write_text("changed\n")
    changed = working_tree(repo, tmp_path / "cache", Console())
    assert changed.label.endswith("+changes") and "uncommitted" in changed.description


# -- a revision's environment ---------------------------------------------------------------


def fake_revision(root: Path, server: str = "HANDLER = 'fake'\n") -> Path:
    package = root / "veltrix_bench" / "engine"
    package.mkdir(parents=True)
    (root / "veltrix_bench" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "server.py").write_text(server)
    (root / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["msgspec"]\n')
    return root


def test_a_revisions_code_comes_first_in_its_environment(tmp_path: Path) -> None:
    """Ahead of the running vbench's own veltrix_bench, which shares its site directories."""
    source = fake_revision(tmp_path / "src")
    python = revision_python(source, tmp_path / "venv", Console())
    found = subprocess.run(
        [str(python), "-c", "import veltrix_bench.engine.server as s, msgspec; print(s.HANDLER)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert found.stdout.strip() == "fake"  # msgspec: a dependency shared from vbench's own
    marker = tmp_path / "venv" / "bin" / "python"
    before = marker.lstat().st_mtime_ns
    assert revision_python(source, tmp_path / "venv", Console()) == python
    assert marker.lstat().st_mtime_ns == before  # reused, not rebuilt


def test_a_revision_whose_engine_does_not_import_fails_with_why(tmp_path: Path) -> None:
    source = fake_revision(tmp_path / "src", server="import no_such_module_anywhere\n")
    with pytest.raises(RunFailed, match="No module named 'no_such_module_anywhere'"):
        revision_python(source, tmp_path / "venv", Console())


def test_only_requirements_this_environment_lacks_are_unmet(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[project]\ndependencies = [\n"
        '  "msgspec>=0.18", "rich<1", "no-such-package-anywhere>=1",\n'
        '  "numpy<1; python_version < \'3\'", "typer",\n]\n'
    )
    assert unmet_requirements(pyproject) == ["rich<1", "no-such-package-anywhere>=1"]
    assert unmet_requirements(tmp_path / "missing.toml") == []
    assert unmet_requirements(HERE / "pyproject.toml") == []  # this checkout's, here


# -- the gate -------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_commit_that_slows_the_handler_fails_the_gate_and_a_revision_passes_against_itself(
    repo: Path, tmp_path: Path
) -> None:
    base = commit_of(repo, "HEAD", "x")
    server = repo / "veltrix_bench" / "engine" / "server.py"
    text = server.read_text()
    assert text.count(HANDLER) == 1
    server.write_text(text.replace(HANDLER, HANDLER + DELAY))
    git(repo, "commit", "-qam", "a fixed delay in the event handler")
    slow = commit_of(repo, "HEAD", "x")
    short = [
        "--config", "tuned", "--scenario", "smoke", "--rate", "200", "--duration", "3s",
        "--trials", "6", "--max-regression", "p50=100%", "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip

    # the candidate is the working tree: the slow commit, checked out
    caught = vbench(repo, "gate", "--baseline-ref", base, *short, "--out", str(tmp_path / "a"))
    assert caught.returncode == 1, caught.stdout + caught.stderr
    gate = json.loads(Path(caught.stdout.strip().splitlines()[-1]).read_text())
    assert not gate["passed"] and [c["name"] for c in gate["checks"] if not c["passed"]]
    assert f"HEAD {slow}" in gate["source"] and f"commit {base}" in gate["source"]
    comparison_sides = gate["source"].split(" against baseline ")
    assert "working tree" in comparison_sides[0] and base in comparison_sides[1]

    itself = vbench(
        repo, "gate", "--baseline-ref", base, "--candidate-ref", base, *short,
        "--out", str(tmp_path / "b"),
    )  # fmt: skip
    assert itself.returncode == 0, itself.stdout + itself.stderr
    gate = json.loads(Path(itself.stdout.strip().splitlines()[-1]).read_text())
    assert gate["passed"] and gate["source"].count(base) == 2


@pytest.mark.slow
def test_compare_a_revision_with_the_working_tree(repo: Path, tmp_path: Path) -> None:
    base = commit_of(repo, "HEAD", "x")
    (repo / "README.md").write_text("an uncommitted change\n")
    done = vbench(
        repo, "compare", "tuned", "--baseline-ref", "HEAD", "--trials", "1",
        "--profiled-trials", "0", "--scenario", "smoke", "--rate", "100", "--duration", "2s",
        "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    compare_dir = Path(done.stdout.strip().splitlines()[-1])
    comparison = json.loads((compare_dir / "comparison.json").read_text())
    names = [side["name"] for side in comparison["sides"]]
    assert names == [f"tuned on HEAD@{base[:12]}", f"tuned on working tree@{base[:12]}+changes"]
    trees = []
    for side in comparison["sides"]:
        started = json.loads((Path(side["run_dirs"][0]) / "engine.json").read_text())
        trees.append((started["cwd"], started["commit"]))
    assert trees == [(str(tmp_path / "cache" / base / "src"), base), (str(repo), base)]
