"""One row of an ablation table: train a variant (baseline, +alignment, +drift
learning rate, both) for several seeds, evaluate float and int8 on the same
seeded episodes, report the mean and spread over seeds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

VARIANTS = {
    "baseline": {"align": False, "drift_lr": False},
    "align": {"align": True, "drift_lr": False},
    "drift": {"align": False, "drift_lr": True},
    "both": {"align": True, "drift_lr": True},
}
FIGURES = ("mean_return", "work_done", "downtime_h", "waste_wh", "energy_neutral_deviation")


def run_ablation(args) -> int:
    from otswarm.trainer.cli import ppo_config
    from otswarm.trainer.pipeline import train_and_ship
    from otswarm.trainer.train import TrainConfig

    switches = VARIANTS[args.variant]
    ppo = ppo_config(
        args, align=args.align if switches["align"] else 0.0, drift_lr=switches["drift_lr"]
    )
    env = args.train_command_env
    per_seed = []
    for seed in args.seeds:
        out = Path(args.out or "runs") / f"{env}-{args.variant}-seed{seed}"
        config = TrainConfig(
            env=env, seed=seed, iterations=args.iterations, n_envs=args.n_envs, ppo=ppo
        )
        card = train_and_ship(config, out, out / f"{env}_int8.tflite", args.eval_episodes, False)
        keys = ("float", "int8", "int8_float_action_agreement")
        per_seed.append({"seed": seed, **{k: card.returns[k] for k in keys}})
    row = {
        "env": env,
        "variant": args.variant,
        "seeds": list(args.seeds),
        "eval_episodes": args.eval_episodes,
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
    _print(row)
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=1) + "\n")
    return 0


def _print(row: dict) -> None:
    table = Table(title=f"{row['env']} ablation: {row['variant']} (seeds {row['seeds']})")
    table.add_column("figure")
    table.add_column("float (mean ± sd over seeds)")
    table.add_column("int8")
    for figure in FIGURES:
        cells = [row.get(f"{kind}_{figure}") for kind in ("float", "int8")]
        if cells[0]:
            table.add_row(figure, *(f"{c['mean']:.3f} ± {c['std']:.3f}" for c in cells))
    Console().print(table)
