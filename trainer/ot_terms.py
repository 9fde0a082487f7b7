"""The optimal-transport extensions of MAPPO (paper areas 1 and 3).

**Alignment.** On an ordered action support ``x_0 < ... < x_{K-1}`` the exact
1-Wasserstein distance between two action distributions with CDFs ``F`` and
``G`` is

    W1(F, G) = sum_{k=0}^{K-2} |F(x_k) - G(x_k)| (x_{k+1} - x_k),

which is differentiable in the probabilities almost everywhere. The W1
barycenter of the agents' distributions ``F_1 .. F_N`` (minimiser of
``sum_i W1(F_i, G)``) has the pointwise median CDF ``G(x_k) = median_i F_i(x_k)``
(a median of non-decreasing functions is non-decreasing, so ``G`` is a CDF). The
alignment term is the mean of ``W1(F_i, G)`` over agents and states; the
barycenter is held fixed (stop-gradient) so each agent is pulled toward it.

**Drift.** The Wasserstein drift between two batches of observations ``X``, ``Y``
(rows: samples, columns: features) is the mean over features of the 1-D W1
between the empirical marginals, ``mean_f mean_n |sort(X_f)_n - sort(Y_f)_n|``
on equal-size subsamples. The learning rate is ``lr0 * clip(d / d_ema, lo, hi)``:
faster adaptation while what the agents see moves faster than usual.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def w1_to_barycenter(probs: tf.Tensor, support: np.ndarray) -> tf.Tensor:
    """Mean W1 distance of each agent's action distribution to the agents' W1
    barycenter. ``probs``: (M, N, K) (M states, N agents, K ordered actions);
    ``support``: (K,) increasing action values. Returns a scalar."""
    spacing = tf.constant(np.diff(np.asarray(support, dtype=np.float32)))
    cdf = tf.cumsum(probs, axis=-1)[..., :-1]  # (M, N, K-1)
    n = cdf.shape[1]
    ordered = tf.sort(cdf, axis=1)
    median = 0.5 * (ordered[:, (n - 1) // 2] + ordered[:, n // 2])  # (M, K-1)
    gap = tf.abs(cdf - tf.stop_gradient(median)[:, None, :])
    return tf.reduce_mean(tf.reduce_sum(gap * spacing, axis=-1))


def observation_drift(x: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> float:
    """Mean per-feature 1-D W1 between samples ``x`` (n_x, D) and ``y`` (n_y, D)."""
    n = min(n, len(x), len(y))
    xs = np.sort(x[rng.choice(len(x), n, replace=False)], axis=0)
    ys = np.sort(y[rng.choice(len(y), n, replace=False)], axis=0)
    return float(np.mean(np.abs(xs - ys)))


class DriftSchedule:
    """Learning-rate multiplier from the drift between consecutive batches."""

    def __init__(self, low: float = 0.5, high: float = 2.0, ema: float = 0.9, n: int = 2048):
        self.low, self.high, self.ema, self.n = low, high, ema, n
        self._previous: np.ndarray | None = None
        self._mean: float | None = None

    def update(self, observations: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
        """Feed this batch's observations (samples, D); return (drift, multiplier)."""
        previous, self._previous = self._previous, observations
        if previous is None:
            return 0.0, 1.0
        drift = observation_drift(observations, previous, self.n, rng)
        self._mean = drift if self._mean is None else self.ema * self._mean + (1 - self.ema) * drift
        return drift, float(np.clip(drift / max(self._mean, 1e-12), self.low, self.high))
