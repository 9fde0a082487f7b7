"""The training loop: collect episodes, MAPPO update, OT extensions, progress, metrics."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from otswarm.trainer.envs.registry import action_layout, make_vec_env
from otswarm.trainer.mappo import MAPPO, PPOConfig, RunningStats, training_batch
from otswarm.trainer.metrics import MetricsLog
from otswarm.trainer.networks import build_actor, build_critic
from otswarm.trainer.ot_terms import DriftSchedule
from otswarm.trainer.rollout import collect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    env: str = "harvest"
    seed: int = 0
    iterations: int = 150
    n_envs: int = 16
    ppo: PPOConfig = field(default_factory=PPOConfig)

    def to_json(self) -> dict:
        return asdict(self)


def train_seed(seed: int, iteration: int, n_envs: int) -> int:
    """Env seed of a training iteration; far from the evaluation seeds 0..1e6."""
    return 1_000_000 * (seed + 1) + iteration * n_envs


@dataclass
class TrainResult:
    actor: tf.keras.Model
    config: TrainConfig
    metrics: MetricsLog
    final_return: float


def train(config: TrainConfig, out_dir: Path, show_progress: bool = True) -> TrainResult:
    """Train a shared actor on ``config.env``; write metrics and plots to ``out_dir``."""
    tf.random.set_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    ppo = config.ppo
    env = make_vec_env(config.env, config.n_envs, for_training=True)
    n, d = env.n_agents, env.obs_size
    support = np.array([a["value"] for a in action_layout(config.env)])
    actor = build_actor(d, env.n_actions, ppo.hidden, config.seed, ppo.quantization_aware)
    state_size = (n * d + n if ppo.centralised else d) + int(ppo.time_in_state)
    critic = build_critic(state_size, ppo.critic_hidden, config.seed)
    agent = MAPPO(actor, critic, ppo, support)
    stats, drift = RunningStats(), DriftSchedule()
    metrics = MetricsLog(out_dir)
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
    ]
    with Progress(*columns, TimeElapsedColumn(), disable=not show_progress) as progress:
        task = progress.add_task(f"train {config.env}", total=config.iterations, status="")
        start = time.monotonic()
        for it in range(config.iterations):
            batch = collect(
                env,
                actor,
                critic,
                train_seed(config.seed, it, config.n_envs),
                ppo.centralised,
                rng,
                ppo.time_in_state,
            )
            drift_value, multiplier = drift.update(batch["obs"].reshape(-1, d), rng)
            lr = agent.set_lr(ppo.lr * (multiplier if ppo.drift_lr else 1.0))
            update = agent.update(training_batch(batch, stats, ppo), rng)
            m = batch["obs"].shape[0] * batch["obs"].shape[1]
            episode_return = float(batch["rewards"].sum(axis=(0, 2)).mean())
            metrics.add(
                {
                    "iteration": it + 1,
                    "episodes": (it + 1) * config.n_envs,
                    "env_steps": (it + 1) * m,
                    "mean_return": episode_return,
                    **update,
                    "lr": lr,
                    "drift": drift_value,
                    "seconds": time.monotonic() - start,
                }
            )
            status = (
                f"ep {(it + 1) * config.n_envs}  return {episode_return:8.2f}  "
                f"pi {update['policy_loss']:+.3f}  v {update['value_loss']:.3f}  "
                f"H {update['entropy']:.2f}  W1 {update['w1_align']:.3f}"
            )
            progress.update(task, advance=1, status=status)
            if not show_progress and (it + 1) % 10 == 0:
                log.info("iteration %d/%d: %s", it + 1, config.iterations, status)
    final = float(np.mean([r["mean_return"] for r in metrics.rows[-5:]]))
    metrics.save({"config": config.to_json(), "final_return": final})
    return TrainResult(actor, config, metrics, final)
