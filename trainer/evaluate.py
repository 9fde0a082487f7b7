"""Evaluate a policy on seeded episodes: sum-of-agents return and, for
``harvest``, the energy figures. Episode ``k`` of a run with seed ``S`` uses env
seed ``S + k`` for every policy, so all rows of a table see the same episodes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from otswarm.trainer.envs.registry import make_vec_env

# act(obs (n_envs, n_agents, D), env) -> action indices (n_envs, n_agents)
ActFn = Callable[[np.ndarray, object], np.ndarray]


def greedy_keras(actor) -> ActFn:
    def act(obs: np.ndarray, env) -> np.ndarray:
        probs = actor(obs.reshape(-1, obs.shape[-1]), training=False).numpy()
        return np.argmax(probs, axis=1).reshape(obs.shape[:2])

    return act


def greedy_tflite(policy) -> ActFn:
    """``policy``: a :class:`otswarm.policy.Policy` (int8 LiteRT)."""

    def act(obs: np.ndarray, env) -> np.ndarray:
        return np.asarray(policy.greedy_action(obs.reshape(-1, obs.shape[-1]))).reshape(
            obs.shape[:2]
        )

    return act


def evaluate(env_name: str, act: ActFn, episodes: int, seed: int, n_envs: int = 20) -> dict:
    """Mean and standard deviation over ``episodes`` of the sum-of-agents return;
    for harvest also work done, downtime [h], waste [Wh], energy shared [Wh] and
    energy-neutral deviation ``|soc_T - soc_0|`` per agent and episode."""
    returns, figures = [], {}
    done_episodes = 0
    while done_episodes < episodes:
        batch = min(n_envs, episodes - done_episodes)
        env = make_vec_env(env_name, batch)
        obs = env.reset(seed + done_episodes)
        total, sums, done = np.zeros((batch, env.n_agents)), {}, False
        while not done:
            obs, rewards, done, info = env.step(act(obs, env))
            total += rewards
            for key, value in info.items():
                if key != "eno":
                    sums[key] = sums.get(key, 0.0) + value
        returns.extend(total.sum(axis=1))
        if env_name == "harvest":
            sums["eno"] = info["eno"]
            for key, value in sums.items():
                figures.setdefault(key, []).extend(
                    value.mean(axis=1) if key == "eno" else value.sum(axis=1)
                )
        done_episodes += batch
    result = {
        "env": env_name,
        "episodes": episodes,
        "seed": seed,
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
    }
    names = {
        "work": "work_done",
        "down_h": "downtime_h",
        "waste_wh": "waste_wh",
        "shared_wh": "shared_wh",
        "eno": "energy_neutral_deviation",
    }
    for key, value in figures.items():
        result[names[key]] = float(np.mean(value))
    return result
