"""`python -m benchmarks`: list the scripts; `--check` that README blocks match results/."""

from __future__ import annotations

import argparse
import ast
import sys

from benchmarks.harness import BENCHMARKS, README, drifted_blocks


def scripts() -> list[tuple[str, str]]:
    """(module, first docstring line) of every script: a module that runs as one, except the
    helpers other scripts start (their names begin with an underscore)."""
    found = []
    for path in sorted(BENCHMARKS.glob("*.py")):
        source = path.read_text()
        if path.stem.startswith("_") or 'if __name__ == "__main__":' not in source:
            continue
        docstring = ast.get_docstring(ast.parse(source)) or ""
        found.append((f"benchmarks.{path.stem}", docstring.splitlines()[0] if docstring else ""))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help=f"fail if a block in {README.name} left its results"
    )
    args = parser.parse_args()
    if args.check:
        drifted = drifted_blocks()
        for line in drifted:
            print(f"benchmarks/README.md: {line}", file=sys.stderr)
        return 1 if drifted else 0
    for module, purpose in scripts():
        print(f"python -m {module:32} {purpose}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
