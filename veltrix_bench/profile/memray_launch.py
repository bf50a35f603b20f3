"""Run a Python module or script with memray tracking only between two signals (see
memray_window.py).

    python -m veltrix_bench.profile.memray_launch --output memray.bin -m veltrix_bench.engine ...
    python -m veltrix_bench.profile.memray_launch --output memray.bin engine.py ...

The program runs exactly as `python -m MODULE ARGS` or `python SCRIPT ARGS` would run it, and
needs no change.
(Nothing imports this module: run as `-m` it must not be in sys.modules already.)
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from veltrix_bench.errors import EXIT_OK, EXIT_USAGE
from veltrix_bench.profile.memray_window import WindowTracker

USAGE = (
    "usage: python -m veltrix_bench.profile.memray_launch --output FILE "
    "(-m MODULE | SCRIPT) [ARGS...]"
)


def main(argv: list[str]) -> int:
    module = len(argv) >= 4 and argv[2] == "-m"
    if argv[:1] != ["--output"] or len(argv) < 3 or (argv[2].startswith("-") and not module):
        print(USAGE, file=sys.stderr)
        return EXIT_USAGE
    capture = Path(argv[1]).resolve()
    program, program_args = (argv[3], argv[4:]) if module else (argv[2], argv[3:])
    window = WindowTracker(capture)
    window.install()
    sys.argv = [program, *program_args]
    # as `python -m` and `python SCRIPT` do
    sys.path[0] = os.getcwd() if module else os.path.dirname(os.path.abspath(program))
    try:
        if module:
            runpy.run_module(program, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(program, run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        window.close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
