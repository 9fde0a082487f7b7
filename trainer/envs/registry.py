"""Environment names -> vectorised envs and the layouts written into model cards."""

from __future__ import annotations

from otswarm.policy.observation import HARVEST_FEATURES
from otswarm.trainer.envs import spread

ENVS = ("harvest", "spread")
# spread episodes: N=3 agents, 25 cycles (the benchmark setting of the issue)
SPREAD_AGENTS, SPREAD_CYCLES = 3, 25


def make_vec_env(name: str, n_envs: int, for_training: bool = False):
    """A batch of ``n_envs`` episodes; ``for_training`` picks the NumPy re-implementation
    of simple_spread (checked against MPE2 in the tests), evaluation the real MPE2."""
    if name == "harvest":
        from otswarm.trainer.envs.harvest import VecHarvest

        return VecHarvest(n_envs)
    if name == "spread" and for_training:
        from otswarm.trainer.envs.spread_numpy import VecSpreadNumpy

        return VecSpreadNumpy(n_envs, SPREAD_AGENTS, SPREAD_CYCLES)
    if name == "spread":
        return spread.VecSpread(n_envs, SPREAD_AGENTS, SPREAD_CYCLES)
    raise ValueError(f"unknown env {name!r}; choose from {ENVS}")


def observation_layout(name: str) -> list[dict]:
    """Card ``observation`` records: name, unit, offset, scale (policy sees (x-offset)/scale)."""
    if name == "harvest":
        return [dict(f) for f in HARVEST_FEATURES]
    return [
        {"name": n, "unit": "MPE units", "offset": 0.0, "scale": 1.0}
        for n in spread.observation_names(SPREAD_AGENTS)
    ]


def action_layout(name: str) -> list[dict]:
    """Card ``actions`` records: index, meaning, value (ordered support of the W1 term)."""
    if name == "harvest":
        from otswarm.trainer.envs.harvest import HarvestConfig

        levels = HarvestConfig().duty_levels
        return [
            {"index": i, "meaning": f"run duty level {v:g}", "value": v}
            for i, v in enumerate(levels)
        ]
    return [
        {"index": i, "meaning": m, "value": float(i)} for i, m in enumerate(spread.ACTION_MEANINGS)
    ]
