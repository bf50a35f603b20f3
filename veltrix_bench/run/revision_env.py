"""A revision's virtual environment: its source first on the path, then the dependencies of
the running vbench, shared; only what the revision needs and they lack is installed into it.

Installing a revision is then instant when its dependencies did not change, and needs no
build backend nor network: the venv (no pip of its own, `--system-site-packages`) gets one
`.pth` file naming the revision's source tree and then the site directories vbench runs from.
That is what an editable install of this flat layout amounts to, minus setuptools' import
finder, which is consulted after the path and so would lose to any other `veltrix_bench` on
it (the running vbench's own, installed normally). The engine also runs with its working
directory in the tree, so `python -m` finds the tree's code first in any case.

Whether the dependencies changed is decided by what matters, not by a diff: each requirement
the revision's pyproject.toml declares is checked against the versions installed where vbench
runs. The unmet ones are installed with pip into the revision's venv, whose own site-packages
come before the shared ones. The venv is rebuilt when that set, the interpreter or the shared
directories change (a fingerprint file records them).
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import site
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from rich.console import Console
from rich.markup import escape

from veltrix_bench.errors import RunFailed

FINGERPRINT = "vbench-revision.json"
PATH_FILE = "_vbench_revision.pth"
_IMPORT_CHECK = "import veltrix_bench.engine.server as s, veltrix_bench as v; print(v.__file__)"


def revision_python(source: Path, venv: Path, console: Console) -> Path:
    """The interpreter of `source`'s environment, made (or reused) under `venv`.

    RunFailed (exit 3) when the environment cannot be made or the revision's engine does not
    import in it, with the last lines of what failed."""
    unmet = unmet_requirements(source / "pyproject.toml")
    shared = shared_site_dirs()
    fingerprint = {
        "python": sys.executable,
        "version": sys.version,
        "source": str(source),
        "shared": shared,
        "installed": unmet,
    }
    python = venv / "bin" / "python"
    recorded = venv / FINGERPRINT
    if python.exists() and recorded.exists() and _read(recorded) == fingerprint:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    _run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
         "making the revision's virtual environment")  # fmt: skip
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   "asking the new environment for its site-packages")  # fmt: skip
    Path(purelib.strip(), PATH_FILE).write_text("\n".join([str(source), *shared]) + "\n")
    if unmet:
        console.print(
            f"vbench: installing what {escape(source.name)} requires and vbench's environment "
            f"lacks: {escape(', '.join(unmet))}"
        )
        _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", *unmet],
             "installing the revision's requirements")  # fmt: skip
    found = _run([str(python), "-c", _IMPORT_CHECK], "importing the revision's engine", source)
    if not Path(found.strip()).resolve().is_relative_to(source.resolve()):
        raise RunFailed(f"the revision's environment imports veltrix_bench from {found.strip()}, "
                        f"not from {source}")  # fmt: skip
    recorded.write_text(json.dumps(fingerprint, indent=2))
    return python


def unmet_requirements(pyproject: Path) -> list[str]:
    """The requirements of pyproject.toml's [project] dependencies that the environment vbench
    runs in does not satisfy (markers that do not apply here are left out; extras are not
    followed). A revision without the file, or without static dependencies, has none we know."""
    try:
        declared = tomllib.loads(pyproject.read_text()).get("project", {}).get("dependencies", [])
    except (OSError, tomllib.TOMLDecodeError):
        return []
    unmet = []
    for text in declared:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            unmet.append(text)  # pip will say what is wrong with it
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            unmet.append(text)
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            unmet.append(text)
    return unmet


def shared_site_dirs() -> list[str]:
    """The site directories vbench's own dependencies are installed in."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if Path(d).is_dir()]


def _read(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _run(command: list[str], doing: str, cwd: Path | None = None) -> str:
    """Its stdout; RunFailed with its last lines when it fails."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise RunFailed(f"{doing} failed (exit {done.returncode}):\n{tail}")
    return done.stdout
