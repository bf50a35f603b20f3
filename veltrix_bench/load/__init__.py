"""Load generation: scenarios, the spec handed to the generator process, and the generator itself.

Importing this package (or `scenario`, `spec`, `protocol`, `messages`, `merge`) never imports
gevent or locust. The generator's processes start at two entry points, the only modules that
patch gevent: `python -m veltrix_bench.load.generator SPEC.json` (a local run, or the master
of a distributed one) and `python -m veltrix_bench.load.worker --master HOST:PORT`.
One window (`window`) runs over the run's shares (`local`, or `master` with its workers),
each share (`share`) being users (`users` with `players` on a lean `connection`, or a
locustfile's, `traffic`) paced by the arrival schedule (`arrival`, `pacing`) and recorded
(`recorder`); the shares' reports (`messages`) merge exactly (`merge`).
"""
