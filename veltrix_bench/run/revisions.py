"""Revisions of the engine's code as engines to start per trial: each commit checked out in a
git worktree of its own with a virtual environment of its own, both cached by commit under
`<cache>/<commit>/` (src/ and venv/), or the working tree as it is.

The repository is the one vbench runs in (its working directory). A cache entry is reused
when its checkout is still exactly that commit; entries are made under a lock, so two vbench
processes sharing a cache do not build one twice at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from veltrix_bench.errors import RunFailed, UsageError
from veltrix_bench.run.engine_launch import EngineCommand
from veltrix_bench.run.revision_env import revision_python

WORKING_TREE = "working tree"


@dataclass(frozen=True)
class Revision:
    """One revision of the engine's code, ready to start."""

    ref: str  # as the user named it, or "working tree"
    commit: str  # the full commit id (for the working tree: its HEAD)
    tree: Path  # the source the engine runs from
    python: Path  # the interpreter of its environment
    changed: bool = False  # the working tree differs from its HEAD

    @property
    def label(self) -> str:
        """How reports call it: `origin/main@3f2a1b4c5d6e`, `working tree@9efce40a1b2c+changes`,
        `3f2a1b4c5d6e` (named by its id)."""
        commit = self.commit[:12] + ("+changes" if self.changed else "")
        return commit if self._by_id else f"{self.ref}@{commit}"

    @property
    def description(self) -> str:
        """What it is, with its whole commit id."""
        if self.ref == WORKING_TREE:
            more = " with uncommitted changes" if self.changed else ""
            return f"the working tree {self.tree} (HEAD {self.commit}{more})"
        return f"commit {self.commit}" if self._by_id else f"{self.ref} (commit {self.commit})"

    @property
    def _by_id(self) -> bool:
        return self.commit.startswith(self.ref.lower())

    def engine(self) -> EngineCommand:
        return EngineCommand.revision(
            self.python, self.tree, self.label, self.description, self.commit
        )


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vbench" / "revisions"


def repository(where: Path, option: str) -> Path:
    """The top of the git repository `where` is in; UsageError (exit 2) when there is none."""
    try:
        top = _git(where, "rev-parse", "--show-toplevel")
    except RunFailed as exc:
        raise UsageError(
            f"{option} needs the engine's git repository: run vbench inside it ({exc.message})"
        ) from None
    return Path(top)


def commit_of(repo: Path, ref: str, option: str) -> str:
    """The full commit id `ref` names in `repo`; UsageError (exit 2) when it names none."""
    try:
        return _git(
            repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
        )
    except RunFailed:
        hint = " (in CI, check out with fetch-depth: 0)" if "/" in ref else ""
        raise UsageError(f"{option} '{ref}': no such commit in {repo}{hint}") from None


def checkout(repo: Path, ref: str, option: str, cache: Path, console: Console) -> Revision:
    """The commit `ref` names, checked out and installed under `cache` (or found there)."""
    commit = commit_of(repo, ref, option)
    entry = cache / commit
    tree = entry / "src"
    with _locked(cache, commit):
        if not _is_checkout(tree, commit):
            console.print(f"vbench: checking out {escape(ref)} ({commit[:10]}) in {tree}")
            shutil.rmtree(tree, ignore_errors=True)
            _git(repo, "worktree", "prune")
            _git(repo, "worktree", "add", "--detach", "--force", str(tree), commit)
        python = revision_python(tree, entry / "venv", console)
    return Revision(ref, commit, tree, python)


def working_tree(repo: Path, cache: Path, console: Console) -> Revision:
    """The repository's working tree as it is, uncommitted changes included."""
    commit = commit_of(repo, "HEAD", "the working tree")
    changed = bool(_git(repo, "status", "--porcelain", "--untracked-files=no"))
    key = "worktree-" + hashlib.sha256(str(repo.resolve()).encode()).hexdigest()[:16]
    with _locked(cache, key):
        python = revision_python(repo, cache / key / "venv", console)
    return Revision(WORKING_TREE, commit, repo, python, changed)


def _is_checkout(tree: Path, commit: str) -> bool:
    """`tree` is a worktree at `commit` with nothing changed in its tracked files."""
    if not tree.is_dir():
        return False
    try:
        head = _git(tree, "rev-parse", "HEAD")
        changed = _git(tree, "status", "--porcelain", "--untracked-files=no")
    except RunFailed:  # its repository moved or was deleted
        return False
    return head == commit and not changed


@contextmanager
def _locked(cache: Path, key: str) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _git(where: Path, *args: str) -> str:
    """git's stdout, stripped; RunFailed with its last line when it fails."""
    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=300
        )
    except FileNotFoundError:
        raise UsageError("revisions need git, and git is not installed here") from None
    except subprocess.TimeoutExpired:
        raise RunFailed(f"git {' '.join(args)} did not finish within 300 s") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RunFailed(f"git {args[0]} failed: {lines[-1] if lines else done.returncode}")
    return done.stdout.strip()
