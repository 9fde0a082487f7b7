"""MAPPO (Yu et al. 2022, "The surprising effectiveness of PPO in cooperative
multi-agent games"): one actor shared by all agents, a centralised critic that
sees the global state, GAE, clipped surrogate, entropy bonus, normalised
advantages and value targets. ``centralised=False`` gives IPPO (the critic sees
only the agent's own observation).

Losses on a minibatch (``r = pi(a|o) / pi_old(a|o)``, ``A`` normalised advantage):

    L_actor  = -mean(min(r A, clip(r, 1 - eps, 1 + eps) A)) - c_ent H(pi) + c_align W1_align
    L_critic = mean((V(s) - z)^2),  z = (G - mu) / sigma   (running return statistics)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import tensorflow as tf

from otswarm.trainer.ot_terms import w1_to_barycenter


@dataclass(frozen=True)
class PPOConfig:
    gamma: float = 0.99
    lam: float = 0.95
    clip: float = 0.2
    entropy: float = 0.01
    align: float = 0.0  # weight of the W1 alignment term (0: off)
    drift_lr: bool = False  # learning rate modulated by state-distribution drift
    centralised: bool = True  # MAPPO; False: IPPO
    time_in_state: bool = False  # critic also sees t / episode length (episodes are cut by time)
    team_reward: bool = False  # every agent learns from the mean of the agents' rewards
    lr: float = 3e-4
    critic_lr: float = 1e-3
    epochs: int = 4
    minibatches: int = 4
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)
    quantization_aware: bool = False  # the actor simulates its int8 export while training
    critic_hidden: tuple[int, ...] = (128, 128)

    def to_json(self) -> dict:
        return asdict(self)


def gae(rewards: np.ndarray, values: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """Generalised advantage estimates for whole episodes (terminal after the last step).

    ``rewards``, ``values``: (T, ...). ``delta_t = r_t + gamma V_{t+1} - V_t`` with
    ``V_T = 0``; ``A_t = delta_t + gamma lam A_{t+1}``.
    """
    advantages = np.zeros_like(rewards)
    running = np.zeros_like(rewards[0])
    for t in reversed(range(len(rewards))):
        next_value = values[t + 1] if t + 1 < len(rewards) else 0.0
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + gamma * lam * running
        advantages[t] = running
    return advantages


def normalise_advantages(advantages: np.ndarray) -> np.ndarray:
    return (advantages - advantages.mean()) / (advantages.std() + 1e-8)


class RunningStats:
    """Running mean and standard deviation of value targets (Chan et al. merge)."""

    def __init__(self) -> None:
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def update(self, x: np.ndarray) -> None:
        batch_mean, batch_var, n = float(x.mean()), float(x.var()), x.size
        delta, total = batch_mean - self.mean, self.count + n
        self.mean += delta * n / total
        self.var = (
            self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        ) / total
        self.count = total

    @property
    def std(self) -> float:
        return float(np.sqrt(self.var) + 1e-8)


def clipped_surrogate(ratio: tf.Tensor, advantages: tf.Tensor, clip: float) -> tf.Tensor:
    """``-mean(min(r A, clip(r, 1-eps, 1+eps) A))``."""
    clipped = tf.clip_by_value(ratio, 1.0 - clip, 1.0 + clip)
    return -tf.reduce_mean(tf.minimum(ratio * advantages, clipped * advantages))


def entropy(probs: tf.Tensor) -> tf.Tensor:
    """Mean Shannon entropy [nats] of the rows of ``probs``."""
    return -tf.reduce_mean(tf.reduce_sum(probs * tf.math.log(probs + 1e-8), axis=-1))


def training_batch(rollout: dict, stats: RunningStats, config: PPOConfig) -> dict:
    """Turn a rollout (T, B, N, ...) into the (T*B, N, ...) arrays of an update:
    GAE advantages (normalised) and value targets in the running return scale
    (``stats`` is updated with this batch's returns)."""
    values = rollout["values"] * stats.std + stats.mean
    rewards = rollout["rewards"]
    if config.team_reward:
        rewards = np.broadcast_to(rewards.mean(axis=-1, keepdims=True), rewards.shape)
    advantages = gae(rewards, values, config.gamma, config.lam)
    returns = advantages + values
    stats.update(returns)
    t, b, n, d = rollout["obs"].shape
    f32 = np.float32
    return {
        "obs": rollout["obs"].reshape(t * b, n, d),
        "states": rollout["states"].reshape(t * b, n, -1).astype(f32),
        "actions": rollout["actions"].reshape(t * b, n).astype(np.int32),
        "old_logp": rollout["logp"].reshape(t * b, n).astype(f32),
        "advantages": normalise_advantages(advantages).reshape(t * b, n).astype(f32),
        "targets": ((returns - stats.mean) / stats.std).reshape(t * b, n).astype(f32),
    }


class MAPPO:
    """Actor and critic, their optimisers, and the compiled update step."""

    def __init__(self, actor, critic, config: PPOConfig, action_support: np.ndarray) -> None:
        self.actor, self.critic, self.config = actor, critic, config
        self.support = np.asarray(action_support, dtype=np.float32)
        self.actor_opt = tf.keras.optimizers.Adam(config.lr, clipnorm=config.max_grad_norm)
        self.critic_opt = tf.keras.optimizers.Adam(config.critic_lr, clipnorm=config.max_grad_norm)

    def set_lr(self, lr: float) -> float:
        """Set the actor's learning rate (the drift schedule calls this); return it."""
        self.actor_opt.learning_rate.assign(lr)
        return lr

    @tf.function(reduce_retracing=True)
    def update_step(self, obs, states, actions, old_logp, advantages, targets):
        """One gradient step on a minibatch of M joint steps. Shapes: obs (M, N, D),
        states (M, N, S), actions/old_logp/advantages/targets (M, N)."""
        n_actions = self.support.shape[0]
        with tf.GradientTape() as tape:
            probs = self.actor(tf.reshape(obs, (-1, obs.shape[-1])), training=True)
            probs = tf.reshape(probs, (-1, obs.shape[1], n_actions))
            logp = tf.math.log(
                tf.reduce_sum(probs * tf.one_hot(actions, n_actions), axis=-1) + 1e-8
            )
            ratio = tf.exp(logp - old_logp)
            policy_loss = clipped_surrogate(ratio, advantages, self.config.clip)
            ent = entropy(probs)
            align = w1_to_barycenter(probs, self.support)
            actor_loss = policy_loss - self.config.entropy * ent + self.config.align * align
        grads = tape.gradient(actor_loss, self.actor.trainable_variables)
        self.actor_opt.apply_gradients(zip(grads, self.actor.trainable_variables, strict=True))
        with tf.GradientTape() as tape:
            values = self.critic(tf.reshape(states, (-1, states.shape[-1])), training=True)
            value_loss = tf.reduce_mean(tf.square(values - tf.reshape(targets, (-1,))))
        grads = tape.gradient(value_loss, self.critic.trainable_variables)
        self.critic_opt.apply_gradients(zip(grads, self.critic.trainable_variables, strict=True))
        return {
            "policy_loss": policy_loss,
            "value_loss": value_loss,
            "entropy": ent,
            "w1_align": align,
        }

    def update(self, batch: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, float]:
        """``epochs`` passes of shuffled minibatches over the (M, N, ...) batch."""
        size = len(batch["obs"])
        sums: dict[str, float] = {}
        steps = 0
        for _ in range(self.config.epochs):
            order = rng.permutation(size)
            for part in np.array_split(order, self.config.minibatches):
                out = self.update_step(*(tf.constant(batch[k][part]) for k in _BATCH_KEYS))
                for key, value in out.items():
                    sums[key] = sums.get(key, 0.0) + float(value)
                steps += 1
        return {key: value / steps for key, value in sums.items()}


_BATCH_KEYS = ("obs", "states", "actions", "old_logp", "advantages", "targets")
