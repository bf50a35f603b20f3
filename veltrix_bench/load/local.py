"""The local run's shares: one share, in this process, on Locust's local runner.

Imported inside generator processes only (after gevent's patching); it patches nothing.
"""

from __future__ import annotations

import logging

import gevent
from gevent.event import Event
from locust.env import Environment

from veltrix_bench.load.merge import ShareTally
from veltrix_bench.load.players import Hunt
from veltrix_bench.load.process import StopRequest
from veltrix_bench.load.share import LoadShare
from veltrix_bench.load.spec import LoadSpec

log = logging.getLogger("vbench.load")

WARM_UP_S = 30.0
KILL_USERS_TIMEOUT_S = 1.0


class LocalShares:
    """The whole load as share 0 of 1, reached directly: what a worker does, minus the wire."""

    distributed = False
    window_lead_s = 0.0

    def __init__(self, spec: LoadSpec, hunts: list[Hunt], stop: StopRequest) -> None:
        self.stop = stop
        self.load = LoadShare(spec, hunts)
        self.env = Environment(user_classes=[], host=spec.target)
        self.load.attach(self.env)
        self.runner = self.env.create_local_runner()
        self.tally = ShareTally("local")
        self.tallies = [self.tally]
        self.lost = Event()  # one process: nothing to lose
        self._spawned = Event()
        self.env.events.spawning_complete.add_listener(lambda **_: self._spawned.set())
        self._finishing: gevent.Greenlet | None = None

    def prepare(self) -> None:
        users = self.load.shared.users_expected
        self.runner.start(users, spawn_rate=users)
        gevent.wait([self._spawned, self.stop.event], count=1)
        shared = self.load.shared
        gevent.wait([shared.all_warm, self.stop.event], count=1, timeout=WARM_UP_S)
        if not shared.all_warm.is_set() and not self.stop.requested:
            log.warning(
                "only %d of %d users connected within %.0f s: starting anyway",
                shared.users_warm,
                shared.users_expected,
                WARM_UP_S,
            )

    def users(self) -> int:
        return int(self.runner.user_count)

    def open(self, start_epoch: float, start_perf: float) -> None:
        self.load.open_window(start_perf, self.tally.add_interval)

    def close(self, interrupted: bool) -> None:
        self._finishing = gevent.spawn(self._finish, interrupted)

    def _finish(self, interrupted: bool) -> None:
        self.tally.result = self.load.finish_window(
            interrupted, self.stop.event, self.tally.add_interval
        )

    def give_up(self, tally: ShareTally, why: str) -> None:
        tally.lost = f"the local share: {why}"  # a bug, not a condition: the drain is bounded

    def shutdown(self) -> None:
        if self._finishing is not None:
            self._finishing.kill()
        # Locust stops users one at a time (~3 s for 5,000): kill them all at once first
        self.runner.user_greenlets.kill(block=True, timeout=KILL_USERS_TIMEOUT_S)
        self.runner.quit()
