"""MAPPO loss pieces and the OT extensions, checked against hand computation,
NumPy and POT."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import tensorflow as tf
from scipy.stats import wasserstein_distance

from otswarm.ot import wasserstein_1d
from otswarm.trainer.mappo import (
    RunningStats,
    clipped_surrogate,
    entropy,
    gae,
    normalise_advantages,
)
from otswarm.trainer.ot_terms import DriftSchedule, observation_drift, w1_to_barycenter
from otswarm.trainer.rollout import global_states, sample_actions

SUPPORT = np.array([0.0, 0.25, 0.5, 0.75, 1.0])


def test_gae_matches_the_recursion_by_hand():
    rewards = np.array([1.0, 0.0, 2.0])
    values = np.array([0.5, 1.0, 1.5])
    g, lam = 0.9, 0.8
    d2 = 2.0 - 1.5
    d1 = 0.0 + g * 1.5 - 1.0
    d0 = 1.0 + g * 1.0 - 0.5
    expected = [d0 + g * lam * (d1 + g * lam * d2), d1 + g * lam * d2, d2]
    assert np.allclose(gae(rewards, values, g, lam), expected)
    # lambda = 1 gives Monte-Carlo returns minus values
    mc = np.array([1 + g * 0 + g * g * 2, 0 + g * 2, 2.0])
    assert np.allclose(gae(rewards, values, g, 1.0), mc - values)


def test_clipped_surrogate_and_entropy():
    ratio = tf.constant([0.5, 1.0, 1.5])
    adv = tf.constant([1.0, -1.0, 1.0])
    # min(r A, clip(r) A): 0.5*1 -> 0.5 (clip 0.8 gives 0.8, min 0.5); -1; 1.5 vs 1.2 -> 1.2
    assert float(clipped_surrogate(ratio, adv, 0.2)) == pytest.approx(-(0.5 - 1.0 + 1.2) / 3)
    uniform = tf.fill((2, 5), 0.2)
    assert float(entropy(uniform)) == pytest.approx(np.log(5), rel=1e-5)
    adv = normalise_advantages(np.array([1.0, 2.0, 3.0, 10.0]))
    assert adv.mean() == pytest.approx(0, abs=1e-9) and adv.std() == pytest.approx(1, rel=1e-6)


def test_running_stats_match_numpy():
    rng = np.random.default_rng(0)
    parts = [rng.normal(3, 2, size=n) for n in (50, 200, 7)]
    stats = RunningStats()
    for part in parts:
        stats.update(part)
    joined = np.concatenate(parts)
    # the prior count of 1e-4 at mean 0, var 1 moves the figures by ~1e-6
    assert stats.mean == pytest.approx(joined.mean(), rel=1e-5)
    assert stats.std == pytest.approx(joined.std(), rel=1e-5)


def test_w1_alignment_term_equals_pot_and_runtime_w1_to_the_median_barycenter():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(5), size=(6, 3))  # 6 states, 3 agents
    term = float(w1_to_barycenter(tf.constant(probs, tf.float32), SUPPORT))
    expected = []
    for state in probs:
        median_cdf = np.median(np.cumsum(state, axis=1), axis=0)
        bary = np.diff(np.concatenate([[0.0], median_cdf]))
        for p in state:
            expected.append(ot.wasserstein_1d(SUPPORT, SUPPORT, p, bary, p=1))
            assert expected[-1] == pytest.approx(wasserstein_1d(SUPPORT, SUPPORT, p, bary))
    assert term == pytest.approx(np.mean(expected), rel=1e-5)  # float32 vs float64


def test_median_cdf_is_the_w1_barycenter():
    """No other distribution on the support has a smaller sum of W1 distances."""
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(5), size=4)
    median_cdf = np.median(np.cumsum(probs, axis=1), axis=0)
    bary = np.diff(np.concatenate([[0.0], median_cdf]))

    def total(q):
        return sum(ot.wasserstein_1d(SUPPORT, SUPPORT, p, q) for p in probs)

    best = total(bary)
    for q in rng.dirichlet(np.ones(5), size=300):
        assert total(q) >= best - 1e-12


def test_w1_alignment_term_has_gradients_and_vanishes_when_agents_agree():
    logits = tf.Variable(np.random.default_rng(5).normal(size=(4, 3, 5)), dtype=tf.float32)
    with tf.GradientTape() as tape:
        term = w1_to_barycenter(tf.nn.softmax(logits), SUPPORT)
    grad = tape.gradient(term, logits)
    assert np.all(np.isfinite(grad.numpy())) and np.abs(grad.numpy()).sum() > 0
    same = tf.nn.softmax(tf.tile(logits[:, :1], (1, 3, 1)))
    assert float(w1_to_barycenter(same, SUPPORT)) == pytest.approx(0.0, abs=1e-7)


def test_drift_is_per_feature_w1_and_drives_the_learning_rate():
    rng = np.random.default_rng(6)
    x, y = rng.normal(0, 1, (500, 3)), rng.normal(0.5, 1, (500, 3))
    drift = observation_drift(x, y, 500, rng)
    scipy_w1 = np.mean([wasserstein_distance(x[:, f], y[:, f]) for f in range(3)])
    assert drift == pytest.approx(scipy_w1, rel=1e-9)  # equal sizes: sorted differences are exact
    schedule = DriftSchedule()
    assert schedule.update(x, rng) == (0.0, 1.0)
    schedule.update(x + 0.01, rng)  # small drift sets the running mean
    _, multiplier = schedule.update(x + 2.0, rng)  # a jump: faster adaptation
    assert multiplier == schedule.high


def test_global_state_and_sampling():
    obs = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    states = global_states(obs, centralised=True)
    assert states.shape == (2, 3, 12 + 3)
    assert np.array_equal(states[1, 2, :12], obs[1].reshape(-1))
    assert np.array_equal(states[1, 2, 12:], [0, 0, 1])
    assert global_states(obs, centralised=False) is obs
    probs = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    draws = np.array([sample_actions(probs, np.random.default_rng(s)) for s in range(2000)])
    assert np.all(draws[:, 0] == 1)
    assert np.mean(draws[:, 1] == 2) == pytest.approx(0.5, abs=0.05)  # 2000 draws: sd ~0.011
