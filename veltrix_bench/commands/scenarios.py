"""`vbench scenarios`: the bundled scenarios."""

from __future__ import annotations

from veltrix_bench.load.scenario import Scenario, list_scenarios


def scenarios() -> list[Scenario]:
    """Every bundled scenario, sorted by name."""
    return list_scenarios()
