"""Run a Python module with memray tracking only between two signals (see memray_window.py).

    python -m veltrix_bench.profile.memray_launch --output memray.bin -m veltrix_bench.engine ...

The module runs exactly as `python -m MODULE ARGS` would run it, and needs no change.
(Nothing imports this module: run as `-m` it must not be in sys.modules already.)
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from veltrix_bench.errors import EXIT_OK, EXIT_USAGE
from veltrix_bench.profile.memray_window import WindowTracker

USAGE = "usage: python -m veltrix_bench.profile.memray_launch --output FILE -m MODULE [ARGS...]"


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[0] != "--output" or argv[2] != "-m":
        print(USAGE, file=sys.stderr)
        return EXIT_USAGE
    capture, module, module_args = Path(argv[1]).resolve(), argv[3], argv[4:]
    window = WindowTracker(capture)
    window.install()
    sys.argv = [module, *module_args]
    sys.path[0] = os.getcwd()  # as `python -m` does
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        window.close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
