"""Bring your own traffic: a scenario's `locustfile` of Locust User classes, run by vbench.

The contract a locustfile keeps (the README repeats it):

1. The file defines one or more concrete Locust `User` classes (`HttpUser`,
   `FastHttpUser`, or any `User` that fires Locust's `request` event). vbench imports
   it the way Locust does, sets every class's `host` to the run's target (`--target`, or
   the embedded engine) and spawns the scenario's users among the classes by their
   `weight` / `fixed_count`: `users` of them for the closed model, `max_in_flight` for
   the open one. Class names must be unique. In distributed runs the master sends the
   file's source to every worker, so a worker needs no copy of it (but needs any module
   the file imports).
2. Recording needs nothing: every request that fires Locust's `request` event is
   recorded (HDR, microseconds) from the moment the load window opens (after all users
   are spawned, and after the scenario's `warmup` if it has one) until it closes; 2xx is
   ok, 429 rejected, anything else an error. A request made with
   `context={"warm_up": True}` is never recorded.
3. Closed model: the classes run as written (their own tasks and `wait_time`).
4. Open model: a class takes part by asking for each request's send time:

       from veltrix_bench.load.traffic import take_slot

       @task
       def hit(self):
           context = take_slot()      # sleeps until this request is due
           self.client.get("/healthz", context=context)

   `take_slot()` returns when the next intended send time of the arrival schedule is
   due and gives the `context` that the request must carry (latency is then measured
   from the intended time, coordinated-omission corrected, and late starts are counted
   by cause). Exactly one request per call. Once the window is over it does not
   return: vbench stops the users. Give such a class `wait_time = constant(0)`: the
   schedule, not a wait, paces it. A user sends one request at a time, so
   `max_in_flight` users cap the requests in flight. A class that does not call
   `take_slot()` is not paced (it runs closed-loop inside an open-model run).
5. Against a service other than the Veltrix engine the engine invariants
   (acknowledged = persisted, claims exactly once) cannot apply: vbench reports them
   as not applicable. Everything else (live view, reports, thresholds, gates) works.

Imported inside generator processes only (it needs gevent's patching done).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from locust import User

from veltrix_bench.errors import RunFailed
from veltrix_bench.load.users import SharedLoad, idle_until_stopped, next_slot, note_start

_run: SharedLoad | None = None
"""The load this process is part of; one per generator process."""


def take_slot() -> dict[str, Any]:
    """Block until this process's next intended send time; the `context` to send with.

    Open model: {"intended_start": ...}. Closed model: {} as soon as the window is open.
    Never returns after the window closed (the user idles until vbench stops it).
    """
    shared = _run
    if shared is None:
        raise RuntimeError("take_slot() is only available while vbench runs the locustfile")
    shared.window_open.wait()
    if shared.spec.model == "closed":
        if shared.window_closed.is_set():
            idle_until_stopped(shared)
        return {}
    due = next_slot(shared)
    if due is None:
        idle_until_stopped(shared)
        raise RuntimeError("unreachable: the user is stopped while idling")
    slot, woke_at = due
    if shared.in_warmup(slot.intended_start):
        return {"warm_up": True}  # sent, never recorded
    note_start(shared, slot, woke_at)
    shared.recorder.note_started()
    return {"intended_start": slot.intended_start}


def bind(shared: SharedLoad) -> None:
    """Make `take_slot()` serve this process's load."""
    global _run
    _run = shared


def load_user_classes(path: Path, host: str) -> list[type[User]]:
    """The concrete User classes a locustfile defines, bound to `host`."""
    if not path.is_file():
        raise RunFailed(f"locustfile {path} not found")
    module_name = f"vbench_locustfile_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RunFailed(f"locustfile {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise RunFailed(f"locustfile {path} failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(path.parent))
    classes = [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, User)
        and not getattr(value, "abstract", False)
        and value.__module__ == module_name
    ]
    if not classes:
        raise RunFailed(f"locustfile {path} defines no concrete User class")
    names = [cls.__name__ for cls in classes]
    if len(set(names)) != len(names):
        raise RunFailed(f"locustfile {path}: User class names must be unique ({names})")
    for cls in classes:
        cls.host = host
    return classes
