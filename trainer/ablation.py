"""One row of an ablation table: train a variant (baseline, +alignment, +drift
learning rate, both) for several seeds, evaluate float and int8 on the same
seeded episodes, report the mean and spread over seeds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from otswarm.trainer.mappo import PPOConfig
from otswarm.trainer.pipeline import train_and_ship
from otswarm.trainer.train import TrainConfig

VARIANTS = {
    "baseline": {"align": False, "drift_lr": False},
    "align": {"align": True, "drift_lr": False},
    "drift": {"align": False, "drift_lr": True},
    "both": {"align": True, "drift_lr": True},
}
FIGURES = ("mean_return", "work_done", "downtime_h", "waste_wh", "energy_neutral_deviation")


def variant_config(ppo: PPOConfig, variant: str) -> PPOConfig:
    """``ppo`` with the variant's switches: alignment keeps ``ppo.align`` or is 0."""
    switches = VARIANTS[variant]
    return replace(
        ppo, align=ppo.align if switches["align"] else 0.0, drift_lr=switches["drift_lr"]
    )


def ablation_row(
    env: str,
    variant: str,
    seeds: list[int],
    ppo: PPOConfig,
    *,
    iterations: int,
    n_envs: int,
    eval_episodes: int,
    out_root: Path,
    command: str,
) -> dict:
    """Train ``variant`` once per seed under ``out_root/ENV-VARIANT-seedS`` and return
    the row: per-seed figures, and their mean and population sd over seeds."""
    ppo = variant_config(ppo, variant)
    per_seed = []
    for seed in seeds:
        out = out_root / f"{env}-{variant}-seed{seed}"
        config = TrainConfig(env=env, seed=seed, iterations=iterations, n_envs=n_envs, ppo=ppo)
        card = train_and_ship(
            config, out, out / f"{env}_int8.tflite", eval_episodes, command, show_progress=False
        )
        keys = ("float", "int8", "int8_float_action_agreement")
        per_seed.append({"seed": seed, **{k: card.returns[k] for k in keys}})
    row = {
        "env": env,
        "variant": variant,
        "seeds": list(seeds),
        "eval_episodes": eval_episodes,
        "ppo": ppo.to_json(),
        "per_seed": per_seed,
    }
    for kind in ("float", "int8"):
        for figure in FIGURES:
            values = [s[kind][figure] for s in per_seed if figure in s[kind]]
            if values:
                row[f"{kind}_{figure}"] = {
                    "mean": float(np.mean(values)),
                    "std": float(np.std(values)),
                }
    return row


def print_row(row: dict) -> None:
    """The row as a terminal table (mean ± sd over seeds, float and int8)."""
    table = Table(title=f"{row['env']} ablation: {row['variant']} (seeds {row['seeds']})")
    table.add_column("figure")
    table.add_column("float (mean ± sd over seeds)")
    table.add_column("int8")
    for figure in FIGURES:
        cells = [row.get(f"{kind}_{figure}") for kind in ("float", "int8")]
        if cells[0]:
            table.add_row(figure, *(f"{c['mean']:.3f} ± {c['std']:.3f}" for c in cells))
    Console().print(table)
