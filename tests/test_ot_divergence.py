"""``sinkhorn_divergence``: S(a, a) = 0, S >= 0, and the value of an independent
computation (the primal objective of POT's plan)."""

from __future__ import annotations

import numpy as np
import ot
import pytest

from otswarm.ot import sinkhorn_divergence

pytestmark = pytest.mark.usefixtures("ot_warm")


def _cloud(n, seed, dim=2, scale=1.0):
    rng = np.random.default_rng(seed)
    x = scale * rng.random((n, dim))
    w = rng.random(n) + 0.05
    return x, w / w.sum()


def _sq(x, y):
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


def _pot_entropic(a, b, M, reg):
    """``<P, M> + reg KL(P | a b^T)`` of POT's log-domain plan (the primal value)."""
    P = ot.bregman.sinkhorn_log(a, b, M, reg, numItermax=100000, stopThr=1e-12)
    ratio = np.where(P > 0, P / np.outer(a, b), 1.0)
    return float(np.sum(P * M) + reg * (np.sum(P * np.log(ratio)) - P.sum() + 1.0))


@pytest.mark.parametrize("reg", [0.02, 0.1, 1.0])
def test_matches_the_primal_value_of_pot_plans(reg):
    x, a = _cloud(17, seed=1)
    y, b = _cloud(11, seed=2)
    got = sinkhorn_divergence(a, b, _sq(x, y), _sq(x, x), _sq(y, y), reg, tol=1e-11,
                              max_iter=100000)  # fmt: skip
    want = (
        _pot_entropic(a, b, _sq(x, y), reg)
        - 0.5 * _pot_entropic(a, a, _sq(x, x), reg)
        - 0.5 * _pot_entropic(b, b, _sq(y, y), reg)
    )
    assert got == pytest.approx(want, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("seed, reg", [(3, 0.01), (4, 0.2), (5, 5.0)])
def test_same_measure_in_another_order_is_zero(seed, reg):
    x, a = _cloud(13, seed=seed, scale=3.0)
    order = np.random.default_rng(seed).permutation(13)
    y, b = x[order], a[order]
    S = sinkhorn_divergence(a, b, _sq(x, y), _sq(x, x), _sq(y, y), reg, max_iter=100000)
    assert abs(S) < 1e-8 * max(1.0, float(_sq(x, x).max()))


@pytest.mark.parametrize("seed", range(6))
def test_nonnegative_on_overlapping_clouds(seed):
    rng = np.random.default_rng(seed)
    n, m, reg = int(rng.integers(3, 30)), int(rng.integers(3, 30)), 10 ** rng.uniform(-1.5, 1)
    x, a = _cloud(n, seed=100 + seed)
    y, b = _cloud(m, seed=200 + seed)
    y = 0.3 * y + 0.35  # close, overlapping clouds: S is small
    S = sinkhorn_divergence(a, b, _sq(x, y), _sq(x, x), _sq(y, y), reg, max_iter=100000)
    assert S >= -1e-10


def test_scales_with_the_mass_and_float32_stays_close():
    x, a = _cloud(20, seed=7)
    y, b = _cloud(20, seed=8)
    Ms = _sq(x, y), _sq(x, x), _sq(y, y)
    S = sinkhorn_divergence(a, b, *Ms, 0.05)
    assert S > 0
    assert sinkhorn_divergence(4 * a, 4 * b, *Ms, 0.05) == pytest.approx(4 * S, rel=1e-7)
    s32 = sinkhorn_divergence(
        a.astype(np.float32), b.astype(np.float32), *(M.astype(np.float32) for M in Ms), 0.05
    )
    assert s32 == pytest.approx(S, rel=1e-2, abs=1e-5)
