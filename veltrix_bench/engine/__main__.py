"""`python -m veltrix_bench.engine ...` is `vbench engine serve ...`."""

import sys

from veltrix_bench.cli import main

if __name__ == "__main__":
    sys.argv[1:1] = ["engine", "serve"]
    main()
