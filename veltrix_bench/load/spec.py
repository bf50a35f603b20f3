"""The load spec: everything the generator process needs, written by the CLI as one JSON file.

Frozen dataclasses (the CLI builds and `replace`s them), encoded and decoded by msgspec,
which validates every field in the same step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

LoadModel = Literal["open", "closed"]
WorkerLoss = Literal["fail", "continue"]

ACTIONS = ("checkin", "solve", "hint", "claim", "leaderboard", "player")
"""What a joined player may do next; `join` is always a player's first action, never drawn."""

EVENT_TYPES = ("join", "checkin", "solve", "hint", "claim")


@dataclass(frozen=True)
class WorldShape:
    """The size of the world the engine generates and the generator plays."""

    hunts: int
    players: int
    places_per_hunt: int
    clues_per_hunt: int
    treasures_per_hunt: int


@dataclass(frozen=True)
class ActionMix:
    """Relative weights of a joined player's next action."""

    checkin: float
    solve: float
    hint: float
    claim: float
    leaderboard: float
    player: float

    def weights(self) -> dict[str, float]:
        return {action: float(getattr(self, action)) for action in ACTIONS}


@dataclass(frozen=True)
class LoadSpec:
    """One generator run.

    `stages` is a list of (duration_s, rate) pieces. For the open model the rate is the
    constant arrival rate (requests/s) of that piece; for the closed model only the
    durations count (rates are 0) and `users` users with a uniform `wait_s` drive the load.
    """

    target: str
    model: LoadModel
    stages: tuple[tuple[float, float], ...]
    users: int
    wait_s: tuple[float, float]
    max_in_flight: int
    late_tolerance_s: float
    drain_s: float
    seed: int
    world: WorldShape
    mix: ActionMix
    wrong_answer_rate: float
    out_dir: Path
    run_tag: str
    locustfile: str | None = None
    """A file of the user's own Locust User classes instead of the treasure-hunt players."""
    processes: int = 1
    """Local generator processes: 1 runs Locust's local runner; more run its master and
    that many local workers."""
    expect_workers: int = 0
    """Workers started elsewhere (`vbench worker --master HOST:PORT`) the master waits for."""
    master_bind: str = "127.0.0.1"
    master_port: int = 5557
    worker_timeout_s: float = 60.0
    """How long the master waits for every worker to connect (and to be ready)."""
    on_worker_loss: WorkerLoss = "fail"
    warmup_s: float = 0.0
    """Open model: the first stage's rate is offered this long before the window opens; those
    requests reach the target, but nothing about them is counted or recorded."""

    @property
    def arrival_stages(self) -> tuple[tuple[float, float], ...]:
        """The pieces the arrival schedule plays: the warm-up (if any), then the window's."""
        if self.model != "open" or self.warmup_s <= 0:
            return self.stages
        return ((self.warmup_s, self.stages[0][1]), *self.stages)

    @property
    def distributed(self) -> bool:
        return self.processes > 1 or self.expect_workers > 0

    @property
    def local_workers(self) -> int:
        """Workers the master starts on this machine (none for `--processes 1`)."""
        return self.processes if self.processes > 1 else 0

    @property
    def workers(self) -> int:
        return self.local_workers + self.expect_workers

    @property
    def duration_s(self) -> float:
        return sum(duration for duration, _ in self.stages)

    def target_rate_at(self, t: float) -> float | None:
        """Intended arrival rate t seconds into the load window; None for the closed model."""
        if self.model == "closed":
            return None
        stage_start = 0.0
        for duration, rate in self.stages:
            if stage_start <= t < stage_start + duration:
                return rate
            stage_start += duration
        return 0.0

    def to_json(self) -> str:
        encoded = msgspec.json.encode(self, enc_hook=encode_path)
        return msgspec.json.format(encoded, indent=2).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> LoadSpec:
        """The spec a JSON text holds; ValueError (msgspec's) naming the field that is wrong."""
        return msgspec.json.decode(text, type=cls, dec_hook=decode_path)


def encode_path(value: Any) -> Any:
    """msgspec's enc_hook for the spec's one field it cannot encode by itself."""
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def decode_path(kind: type, value: Any) -> Any:
    """msgspec's dec_hook for the same."""
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(f"cannot decode {kind}")
