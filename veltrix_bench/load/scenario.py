"""Scenario files (scenarios/*.toml): validation, lookup by name, turning one into a LoadSpec."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

import veltrix_bench
from veltrix_bench.errors import ConfigError
from veltrix_bench.load.bounds import (
    Hunts,
    PerHunt,
    Players,
    Rate,
    Seconds,
    SecondsOrZero,
    Seed,
    Share,
    StageRate,
    Users,
    Weight,
    check_users_fit,
    run_length_problem,
)
from veltrix_bench.load.spec import ActionMix, LoadSpec, WorldShape
from veltrix_bench.tomlfile import read_toml, validate

SCENARIO_DIR = Path(veltrix_bench.__file__).resolve().parents[1] / "scenarios"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(_Strict):
    duration: Seconds
    rate: StageRate


class LoadSection(_Strict):
    """How load is offered: an open model (arrival rate) or a closed one (users that wait)."""

    model: Literal["open", "closed"] = "open"
    rate: Rate | None = None
    duration: Seconds | None = None
    stages: tuple[Stage, ...] | None = Field(default=None, min_length=1)
    users: Users = 10
    wait: tuple[SecondsOrZero, SecondsOrZero] = (0.0, 0.05)
    max_in_flight: Users = 1000
    late_tolerance: Seconds = 0.01
    drain: Seconds = 10.0
    warmup: SecondsOrZero = 0.0
    """Open model: the first stage's rate for this long before the window; not recorded."""

    @model_validator(mode="after")
    def _one_way_to_say_the_rate(self) -> LoadSection:
        if self.stages is not None:
            if self.model == "closed":
                raise ValueError("'stages' applies to the open model only")
            if self.rate is not None or self.duration is not None:
                raise ValueError("give either 'stages' or 'rate' and 'duration', not both")
        if self.model == "closed" and self.rate is not None:
            raise ValueError("'rate' applies to the open model; the closed model uses 'users'")
        if self.model == "closed" and self.warmup:
            raise ValueError("'warmup' applies to the open model (the closed model has no rate)")
        if self.wait[0] > self.wait[1]:
            raise ValueError("'wait' is [min, max]: min must not exceed max")
        problem = run_length_problem(self.total_duration_s, self.drain)
        if problem:
            raise ValueError(problem)
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

    seed: Seed = 7
    hunts: Hunts = 4
    players: Players = 2000
    places_per_hunt: PerHunt = 10
    clues_per_hunt: PerHunt = 5
    treasures_per_hunt: PerHunt = 3


class MixSection(_Strict):
    """Relative weights of a joined player's actions (the first action is always join)."""

    checkin: Weight = 30
    solve: Weight = 25
    hint: Weight = 5
    claim: Weight = 10
    leaderboard: Weight = 15
    player: Weight = 5
    wrong_answer_rate: Share = 0.1

    def action_mix(self) -> ActionMix:
        """The weights as the generator takes them."""
        return ActionMix(
            checkin=self.checkin, solve=self.solve, hint=self.hint, claim=self.claim,
            leaderboard=self.leaderboard, player=self.player,
        )  # fmt: skip

    @model_validator(mode="after")
    def _some_weight(self) -> MixSection:
        if self.checkin + self.solve + self.hint + self.claim + self.leaderboard + self.player <= 0:
            raise ValueError("at least one action needs a positive weight")
        return self


class ThresholdsSection(_Strict):
    checks: tuple[str, ...] = ()


class _Options(_Strict):
    """The command line's overrides, bounded like the same keys in a scenario file."""

    rate: Rate | None = Field(default=None, alias="--rate")
    users: Users | None = Field(default=None, alias="--users")
    duration: Seconds | None = Field(default=None, alias="--duration")
    seed: Seed | None = Field(default=None, alias="--seed")
    warmup: SecondsOrZero | None = Field(default=None, alias="--warmup")


class Scenario(_Strict):
    """One scenario file. Durations are held in seconds."""

    name: str = Field(min_length=1)
    description: str = ""
    locustfile: str | None = None
    """A Python file of Locust User classes that replace the treasure-hunt players (a path
    relative to the scenario file); see `veltrix_bench.load.traffic` for the contract."""
    seed: Seed = 1
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
        generator_processes: int = 1,
        warmup_s: float | None = None,
    ) -> LoadSpec:
        """The spec for one run of this scenario, with the CLI's overrides applied.

        - `rate` forces the open model at that constant rate for the whole duration.
        - `users` forces the closed model with that many users (the scenario's `wait`).
        - `duration_s` replaces the total duration. Staged rates are scaled in time so the
          ramp keeps its shape (a 40 s ramp run for 8 s climbs the same rates in 2 s steps).
        - `seed` replaces the traffic seed (the world's seed stays the scenario's).
        - `warmup_s` replaces the open model's warm-up (the closed model has none).
        Giving both `rate` and `users` is a ConfigError, and so is any value out of its
        bounds (see `load/bounds.py`), including users more than `generator_processes`
        generator processes on this machine can hold.
        """
        if rate is not None and users is not None:
            raise ConfigError("--rate (open model) and --users (closed model) exclude each other")
        options = {
            "--rate": rate, "--users": users, "--duration": duration_s, "--seed": seed,
            "--warmup": warmup_s,
        }  # fmt: skip
        validate(_Options, {name: v for name, v in options.items() if v is not None}, what="option")

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
        problem = run_length_problem(total, self.load.drain)
        if problem:
            given = f" with --duration {duration_s:g}s" if duration_s is not None else ""
            raise ConfigError(f"scenario '{self.name}'{given}: {problem}")
        if users is not None:
            held, what = users, f"--users {users}"
        elif model == "closed":
            held, what = self.load.users, f"scenario '{self.name}': load.users = {self.load.users}"
        else:  # the open model runs one user per request it may have in flight
            held = self.load.max_in_flight
            what = f"scenario '{self.name}': load.max_in_flight = {held}"
        check_users_fit(held, generator_processes, what)

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
            mix=self.mix.action_mix(),
            wrong_answer_rate=self.mix.wrong_answer_rate,
            out_dir=out_dir,
            run_tag=run_tag,
            locustfile=self.locustfile,
            warmup_s=(self.load.warmup if warmup_s is None else warmup_s) if model == "open" else 0,
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
    _compiles(locustfile)
    return scenario.model_copy(update={"locustfile": str(locustfile)})


def _compiles(locustfile: Path) -> None:
    """A locustfile that is not Python is refused here, before an engine starts for it (its
    imports still run only in the generator: Locust must not load in the CLI's process)."""
    try:
        compile(locustfile.read_bytes(), str(locustfile), "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        where = f" line {exc.lineno}" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise ConfigError(f"{locustfile}:{where} not valid Python: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{locustfile}: cannot read it ({exc.strerror})") from None
