"""The commands, one module each: a function from typed options to a result with its exit code.

The CLI declares the options and prints the result; a command never prints its verdict nor
exits, and raises a `veltrix_bench.errors` exception for anything the user can fix.
"""
