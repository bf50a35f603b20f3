"""A worked custom locustfile: the engine's cheapest route, paced by vbench's open model.

Any HTTP service works the same way: point `vbench run --target URL` at it (loopback, or
with --allow-remote). vbench sets `host`, spawns the users, records every request and
hands out the intended send times; the class only says what one request is.
"""

from locust import FastHttpUser, constant, task

from veltrix_bench.load.traffic import take_slot


class HealthCheck(FastHttpUser):
    wait_time = constant(0)  # the arrival schedule paces the requests, not a wait

    @task
    def healthz(self) -> None:
        context = take_slot()  # sleeps until this request is due (open model)
        self.client.get("/healthz", name="GET /healthz", context=context)
