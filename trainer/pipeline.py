"""From a trained float actor to a shipped int8 policy: representative rollouts,
int8 export, float-vs-int8 agreement on held-out states, returns in the card."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from otswarm import __version__
from otswarm.policy import Policy
from otswarm.policy.card import ModelCard, card_path_for
from otswarm.trainer.envs.registry import make_vec_env
from otswarm.trainer.evaluate import evaluate, greedy_keras, greedy_tflite
from otswarm.trainer.export import export_policy
from otswarm.trainer.networks import is_quantization_aware, without_quantization
from otswarm.trainer.rollout import sample_actions
from otswarm.trainer.train import TrainConfig, train

log = logging.getLogger(__name__)

REPRESENTATIVE_SEED = 5_000_000  # rollouts for calibration: not training, not evaluation
HELD_OUT_SEED = 7_000_000  # held-out states for the agreement check


def rollout_observations(env_name: str, actor, seed: int, episodes: int = 16) -> np.ndarray:
    """Observations (samples, D) met by the actor sampling its own actions."""
    env = make_vec_env(env_name, episodes)
    rng = np.random.default_rng(seed)
    obs, done, seen = env.reset(seed), False, []
    while not done:
        seen.append(obs.reshape(-1, obs.shape[-1]))
        probs = actor(obs.reshape(-1, obs.shape[-1]), training=False).numpy()
        obs, _, done, _ = env.step(sample_actions(probs, rng).reshape(obs.shape[:2]))
    return np.concatenate(seen).astype(np.float32)


def agreement(actor, policy: Policy, observations: np.ndarray) -> float:
    """Fraction of states where int8 LiteRT and float Keras pick the same action."""
    float_actions = np.argmax(actor(observations, training=False).numpy(), axis=1)
    return float(np.mean(policy.greedy_action(observations) == float_actions))


def use_one_thread(tf) -> None:
    """Run TensorFlow on one thread, which makes training deterministic for a seed.

    TensorFlow fixes its thread pools when it first runs an op; in a process that
    has already used it (a notebook, a test session) the pools stay as they are,
    and a warning says that runs may then differ in the last bits."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        log.warning(
            "TensorFlow was already initialised in this process: training keeps its "
            "thread pools, so it may not be bit-for-bit reproducible (run it in a fresh process)"
        )


def train_and_ship(
    config: TrainConfig,
    out: Path,
    model_out: Path,
    eval_episodes: int,
    command: str,
    show_progress: bool = True,
) -> ModelCard:
    """Train, save ``out/actor.keras``, export and check the int8 model, write
    ``out/summary.json``; return the card. ``command`` is the command line that
    asked for it, recorded in the card."""
    import tensorflow as tf

    use_one_thread(tf)
    result = train(config, out, show_progress=show_progress)
    result.actor.save(out / "actor.keras")
    training = {
        **config.to_json(),
        "algorithm": "MAPPO" if config.ppo.centralised else "IPPO",
        "command": command,
        "otswarm_version": __version__,
        "final_training_return": result.final_return,
    }
    card = ship(result.actor, config.env, model_out, training, config.seed, eval_episodes)
    (out / "summary.json").write_text(json.dumps(card.to_json(), indent=1) + "\n")
    return card


def ship(
    actor,
    env_name: str,
    model_out: Path,
    training: dict,
    seed: int,
    eval_episodes: int,
    eval_seed: int = 0,
) -> ModelCard:
    """Export ``actor`` to ``model_out`` (+ card) and record how well int8 matches float."""
    representative = rollout_observations(env_name, actor, REPRESENTATIVE_SEED + seed)
    card = export_policy(actor, env_name, representative, model_out, training, {}, seed)
    policy = Policy(model_out)
    held_out = rollout_observations(env_name, actor, HELD_OUT_SEED + seed)
    float_eval = evaluate(env_name, greedy_keras(actor), eval_episodes, eval_seed)
    int8_eval = evaluate(env_name, greedy_tflite(policy), eval_episodes, eval_seed)
    returns = {
        "eval_episodes": eval_episodes,
        "eval_seed": eval_seed,
        "float": float_eval,
        "int8": int8_eval,
        "int8_float_action_agreement": agreement(actor, policy, held_out),
        "held_out_states": len(held_out),
    }
    if is_quantization_aware(actor):
        # the same weights without the simulated int8 grids: what QAT changed
        plain = without_quantization(actor)
        returns["int8_unquantized_weights_agreement"] = agreement(plain, policy, held_out)
    card = replace(card, returns=returns)
    card.save(card_path_for(model_out))
    log.info(
        "int8 agreement %.4f, return float %.2f int8 %.2f",
        returns["int8_float_action_agreement"],
        float_eval["mean_return"],
        int8_eval["mean_return"],
    )
    return card
