"""`python -m veltrix_bench` is the `vbench` command."""

from veltrix_bench.cli import main

if __name__ == "__main__":
    main()
