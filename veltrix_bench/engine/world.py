"""The game world (hunts, places, clues with answers, treasures), generated from a seed."""

from __future__ import annotations

import random
from dataclasses import dataclass

from veltrix_bench.engine.config import WorldConfig

_WORDS = (
    "amber",
    "anchor",
    "beacon",
    "birch",
    "cobalt",
    "compass",
    "copper",
    "dune",
    "ember",
    "falcon",
    "fern",
    "garnet",
    "harbor",
    "ivory",
    "jade",
    "juniper",
    "lantern",
    "maple",
    "marble",
    "meadow",
    "nectar",
    "obsidian",
    "onyx",
    "orchid",
    "pearl",
    "quartz",
    "raven",
    "saffron",
    "sage",
    "sextant",
    "silver",
    "summit",
    "thistle",
    "tide",
    "topaz",
    "violet",
    "willow",
    "zephyr",
)


@dataclass(frozen=True)
class Hunt:
    hunt: int
    answers: tuple[str, ...]  # answers[i] answers clue i + 1
    places: int
    treasures: int

    def describe(self) -> dict[str, object]:
        return {
            "hunt": self.hunt,
            "places": list(range(1, self.places + 1)),
            "clues": [{"clue": i + 1, "answer": a} for i, a in enumerate(self.answers)],
            "treasures": list(range(1, self.treasures + 1)),
        }


@dataclass(frozen=True)
class World:
    config: WorldConfig
    hunts: tuple[Hunt, ...]

    @classmethod
    def generate(cls, config: WorldConfig) -> World:
        rng = random.Random(config.seed)
        hunts = tuple(
            Hunt(
                hunt=h,
                answers=tuple(rng.choice(_WORDS) for _ in range(config.clues_per_hunt)),
                places=config.places_per_hunt,
                treasures=config.treasures_per_hunt,
            )
            for h in range(1, config.hunts + 1)
        )
        return cls(config, hunts)

    def hunt(self, hunt: int) -> Hunt:
        return self.hunts[hunt - 1]
