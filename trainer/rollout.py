"""Collect whole episodes from a vectorised env with the current actor and critic."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def global_states(obs: np.ndarray, centralised: bool) -> np.ndarray:
    """Critic input per agent, (..., N, S): all agents' observations plus the
    agent's one-hot id (MAPPO), or the agent's own observation (IPPO)."""
    if not centralised:
        return obs
    n = obs.shape[-2]
    joint = np.repeat(obs.reshape(*obs.shape[:-2], 1, -1), n, axis=-2)
    ids = np.broadcast_to(np.eye(n, dtype=obs.dtype), (*obs.shape[:-2], n, n))
    return np.concatenate([joint, ids], axis=-1)


def sample_actions(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of ``probs`` (..., K)."""
    u = rng.random(probs.shape[:-1])[..., None]
    return np.minimum((u > np.cumsum(probs, axis=-1)).sum(axis=-1), probs.shape[-1] - 1)


@tf.function(reduce_retracing=True)
def _forward(model, x):
    return model(x, training=False)


def collect(
    env,
    actor,
    critic,
    seed: int,
    centralised: bool,
    rng: np.random.Generator,
    time_in_state: bool = False,
) -> dict:
    """Run one episode in every env; arrays are (T, n_envs, n_agents, ...).
    ``time_in_state`` appends ``t / episode_steps`` to the critic's input."""
    obs = env.reset(seed)
    keys = ("obs", "states", "actions", "logp", "values", "rewards")
    out: dict[str, list] = {k: [] for k in keys}
    infos = []
    done = False
    while not done:
        flat = obs.reshape(-1, obs.shape[-1])
        probs = _forward(actor, tf.constant(flat)).numpy().reshape(*obs.shape[:2], -1)
        actions = sample_actions(probs, rng)
        states = global_states(obs, centralised)
        if time_in_state:
            clock = np.full((*states.shape[:-1], 1), len(out["obs"]) / env.episode_steps)
            states = np.concatenate([states, clock.astype(states.dtype)], axis=-1)
        values = _forward(critic, tf.constant(states.reshape(-1, states.shape[-1]))).numpy()
        next_obs, rewards, done, info = env.step(actions)
        chosen = np.take_along_axis(probs, actions[..., None], axis=-1)[..., 0]
        for key, value in zip(
            keys,
            (obs, states, actions, np.log(chosen + 1e-8), values.reshape(obs.shape[:2]), rewards),
            strict=True,
        ):
            out[key].append(value)
        infos.append(info)
        obs = next_obs
    batch = {k: np.asarray(v) for k, v in out.items()}
    batch["info"] = {k: np.sum([i[k] for i in infos], axis=0) for k in (infos[0] or {})}
    batch["final_info"] = infos[-1]
    return batch
