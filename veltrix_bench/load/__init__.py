"""Load generation: scenarios, the spec handed to the generator process, and the generator itself.

Importing this package (or `scenario`, `spec`, `protocol`) never imports gevent or locust;
only `python -m veltrix_bench.load.generator` does.
"""
