"""Scenario files (scenarios/*.toml): validation, lookup by name, turning one into a LoadSpec."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

import veltrix_bench
from veltrix_bench.durations import parse_duration
from veltrix_bench.errors import ConfigError
from veltrix_bench.load.spec import ActionMix, LoadSpec, WorldShape
from veltrix_bench.tomlfile import read_toml, validate

SCENARIO_DIR = Path(veltrix_bench.__file__).resolve().parents[1] / "scenarios"

_ZERO = re.compile(r"0+(?:\.0*)?(?:ms|s|m|h)?")


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("expected a duration like '30s' or '500ms'")
    return parse_duration(value)


def _seconds_or_zero(value: object) -> float:
    if isinstance(value, str) and _ZERO.fullmatch(value.strip()):
        return 0.0
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return 0.0
    return _seconds(value)


Seconds = Annotated[float, BeforeValidator(_seconds)]
"""A positive duration, written '30s', '2m', '500ms' (or a bare number of seconds)."""

SecondsOrZero = Annotated[float, BeforeValidator(_seconds_or_zero)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(_Strict):
    duration: Seconds
    rate: float = Field(ge=0)


class LoadSection(_Strict):
    """How load is offered: an open model (arrival rate) or a closed one (users that wait)."""

    model: Literal["open", "closed"] = "open"
    rate: float | None = Field(default=None, gt=0)
    duration: Seconds | None = None
    stages: tuple[Stage, ...] | None = Field(default=None, min_length=1)
    users: int = Field(default=10, ge=1)
    wait: tuple[SecondsOrZero, SecondsOrZero] = (0.0, 0.05)
    max_in_flight: int = Field(default=1000, ge=1)
    late_tolerance: Seconds = 0.01
    drain: Seconds = 10.0

    @model_validator(mode="after")
    def _one_way_to_say_the_rate(self) -> LoadSection:
        if self.stages is not None:
            if self.model == "closed":
                raise ValueError("'stages' applies to the open model only")
            if self.rate is not None or self.duration is not None:
                raise ValueError("give either 'stages' or 'rate' and 'duration', not both")
        if self.model == "closed" and self.rate is not None:
            raise ValueError("'rate' applies to the open model; the closed model uses 'users'")
        if self.wait[0] > self.wait[1]:
            raise ValueError("'wait' is [min, max]: min must not exceed max")
        return self

    @property
    def stage_list(self) -> tuple[tuple[float, float], ...]:
        """(duration_s, rate) pieces; defaults to 100 requests/s for 10 s."""
        if self.stages is not None:
            return tuple((stage.duration, stage.rate) for stage in self.stages)
        return ((self.duration or 10.0, self.rate or 100.0),)

    @property
    def total_duration_s(self) -> float:
        return sum(duration for duration, _ in self.stage_list)

    @property
    def peak_rate(self) -> float | None:
        if self.model == "closed":
            return None
        return max(rate for _, rate in self.stage_list)


class WorldSection(_Strict):
    """The world the engine generates from `seed` (and that the generator plays)."""

    seed: int = 7
    hunts: int = Field(default=4, ge=1)
    players: int = Field(default=2000, ge=1)
    places_per_hunt: int = Field(default=10, ge=1)
    clues_per_hunt: int = Field(default=5, ge=1)
    treasures_per_hunt: int = Field(default=3, ge=1)


class MixSection(_Strict):
    """Relative weights of a joined player's actions (the first action is always join)."""

    checkin: float = Field(default=30, ge=0)
    solve: float = Field(default=25, ge=0)
    hint: float = Field(default=5, ge=0)
    claim: float = Field(default=10, ge=0)
    leaderboard: float = Field(default=15, ge=0)
    player: float = Field(default=5, ge=0)
    wrong_answer_rate: float = Field(default=0.1, ge=0, le=1)

    @model_validator(mode="after")
    def _some_weight(self) -> MixSection:
        if self.checkin + self.solve + self.hint + self.claim + self.leaderboard + self.player <= 0:
            raise ValueError("at least one action needs a positive weight")
        return self


class ThresholdsSection(_Strict):
    checks: tuple[str, ...] = ()


class Scenario(_Strict):
    """One scenario file. Durations are held in seconds."""

    name: str = Field(min_length=1)
    description: str = ""
    locustfile: str | None = None
    """A Python file of Locust User classes that replace the treasure-hunt players (a path
    relative to the scenario file); see `veltrix_bench.load.traffic` for the contract."""
    seed: int = 1
    profile: tuple[Literal["memory", "cpu"], ...] = ()
    load: LoadSection = LoadSection()
    world: WorldSection = WorldSection()
    mix: MixSection = MixSection()
    thresholds: ThresholdsSection = ThresholdsSection()

    def to_load_spec(
        self,
        target: str,
        out_dir: Path,
        *,
        rate: float | None,
        users: int | None,
        duration_s: float | None,
        seed: int | None,
        run_tag: str,
    ) -> LoadSpec:
        """The spec for one run of this scenario, with the CLI's overrides applied.

        - `rate` forces the open model at that constant rate for the whole duration.
        - `users` forces the closed model with that many users (the scenario's `wait`).
        - `duration_s` replaces the total duration. Staged rates are scaled in time so the
          ramp keeps its shape (a 40 s ramp run for 8 s climbs the same rates in 2 s steps).
        - `seed` replaces the traffic seed (the world's seed stays the scenario's).
        Giving both `rate` and `users` is a ConfigError.
        """
        if rate is not None and users is not None:
            raise ConfigError("--rate (open model) and --users (closed model) exclude each other")
        if rate is not None and rate <= 0:
            raise ConfigError(f"--rate must be positive (got {rate})")
        if users is not None and users < 1:
            raise ConfigError(f"--users must be at least 1 (got {users})")
        if duration_s is not None and duration_s <= 0:
            raise ConfigError(f"--duration must be positive (got {duration_s})")

        model = self.load.model
        if rate is not None:
            model = "open"
        elif users is not None:
            model = "closed"

        stages = self.load.stage_list
        total = self.load.total_duration_s
        if duration_s is not None:
            scale = duration_s / total
            stages = tuple((duration * scale, stage_rate) for duration, stage_rate in stages)
            total = duration_s
        if rate is not None:
            stages = ((total, float(rate)),)
        if model == "closed":
            stages = ((total, 0.0),)

        return LoadSpec(
            target=target.rstrip("/"),
            model=model,
            stages=stages,
            users=users if users is not None else self.load.users,
            wait_s=self.load.wait,
            max_in_flight=self.load.max_in_flight,
            late_tolerance_s=self.load.late_tolerance,
            drain_s=self.load.drain,
            seed=self.seed if seed is None else seed,
            world=WorldShape(
                hunts=self.world.hunts,
                players=self.world.players,
                places_per_hunt=self.world.places_per_hunt,
                clues_per_hunt=self.world.clues_per_hunt,
                treasures_per_hunt=self.world.treasures_per_hunt,
            ),
            mix=ActionMix(
                checkin=self.mix.checkin,
                solve=self.mix.solve,
                hint=self.mix.hint,
                claim=self.mix.claim,
                leaderboard=self.mix.leaderboard,
                player=self.mix.player,
            ),
            wrong_answer_rate=self.mix.wrong_answer_rate,
            out_dir=out_dir,
            run_tag=run_tag,
            locustfile=self.locustfile,
        )


def bundled_names() -> list[str]:
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """A scenario from a file path (ends in .toml or exists) or a bundled name ('smoke')."""
    candidate = Path(name_or_path)
    if name_or_path.endswith(".toml") or candidate.is_file():
        return _load_file(candidate)
    path = SCENARIO_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        available = ", ".join(bundled_names()) or "(none)"
        raise ConfigError(f"unknown scenario '{name_or_path}'; available: {available}")
    return _load_file(path)


def list_scenarios() -> list[Scenario]:
    """Every bundled scenario, sorted by name."""
    return [_load_file(SCENARIO_DIR / f"{name}.toml") for name in bundled_names()]


def _load_file(path: Path) -> Scenario:
    scenario = validate(Scenario, read_toml(path), path)
    if scenario.locustfile is None:
        return scenario
    locustfile = (path.parent / scenario.locustfile).resolve()
    if not locustfile.is_file():
        raise ConfigError(f"{path}: locustfile '{scenario.locustfile}' not found ({locustfile})")
    return scenario.model_copy(update={"locustfile": str(locustfile)})
