"""emd, wasserstein_1d, sliced_wasserstein and barycenter against POT."""

from __future__ import annotations

import numpy as np
import ot
import pytest
from ot_cases import cloud_problem

from otswarm.ot import barycenter, emd, sliced_wasserstein, wasserstein_1d
from otswarm.ot.sliced import directions

pytestmark = pytest.mark.usefixtures("ot_warm")


@pytest.mark.parametrize("n, m, seed", [(8, 8, 0), (15, 6, 1), (30, 41, 2)])
def test_emd_matches_pot_and_duals_certify_optimality(n, m, seed):
    a, b, M = cloud_problem(n, m, seed=seed)
    got = emd(a, b, M)
    # both are exact LP solutions: costs agree to solver precision
    assert got.cost == pytest.approx(float(ot.emd2(a, b, M)), rel=1e-9, abs=1e-12)
    assert got.converged and got.marginal_error < 1e-9
    slack = M - got.f[:, None] - got.g[None, :]
    assert slack.min() > -1e-9  # dual feasible
    assert np.sum(got.plan * slack) < 1e-9  # complementary slackness


def test_emd_zero_weights_and_assignment():
    a, b, M = cloud_problem(6, 6, seed=3)
    u = np.full(6, 1 / 6)
    got = emd(u, u, M)
    # uniform square problem: the optimum is a permutation (Birkhoff)
    assert got.cost == pytest.approx(float(ot.emd2(u, u, M)), rel=1e-9)
    a[1] = 0.0
    a /= a.sum()
    got = emd(a, b, M)
    assert np.all(got.plan[1] == 0.0) and np.all(np.isfinite(got.f))
    assert got.cost == pytest.approx(float(ot.emd2(a, b, M)), rel=1e-9)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_wasserstein_1d_matches_pot(p):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=30), rng.normal(1.0, 2.0, size=17)
    a, b = rng.random(30), rng.random(17)
    a, b = a / a.sum(), b / b.sum()
    want = float(ot.wasserstein_1d(x, y, a, b, p=p)) ** (1 / p)  # POT returns W_p^p
    assert wasserstein_1d(x, y, a, b, p=p) == pytest.approx(want, rel=1e-10)


def test_wasserstein_1d_histograms_on_a_shared_support_is_l1_of_cdfs():
    support = np.linspace(0.0, 5.0, 11)
    rng = np.random.default_rng(5)
    a, b = rng.random(11), rng.random(11)
    a[3] = 0.0
    a, b = a / a.sum(), b / b.sum()
    cdf_gap = np.abs(np.cumsum(a) - np.cumsum(b))[:-1] @ np.diff(support)
    assert wasserstein_1d(support, support, a, b) == pytest.approx(cdf_gap, rel=1e-12)
    assert wasserstein_1d(support, support, a, a) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
@pytest.mark.parametrize("weights", ["random", "uniform"])
@pytest.mark.parametrize("m", [25, 40])
def test_sliced_matches_pot_with_the_same_directions(p, weights, m):
    """Each path: weighted (orders), uniform with n != m (sorts, one merge),
    uniform with n = m (one grid); ``p`` 1 and 2 skip ``pow``."""
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(40, 3)), rng.normal(0.5, 1.0, size=(m, 3))
    a, b = (rng.random(40), rng.random(m)) if weights == "random" else (None, None)
    a, b = (None, None) if a is None else (a / a.sum(), b / b.sum())
    got = sliced_wasserstein(X, Y, a, b, n_projections=30, seed=7, p=p)
    theta = directions(3, 30, seed=7)
    want = ot.sliced_wasserstein_distance(X, Y, a, b, projections=theta.T, p=p)
    assert got == pytest.approx(float(want), rel=1e-10)
    assert sliced_wasserstein(X, X, n_projections=10, seed=1) == pytest.approx(0.0, abs=1e-12)


def test_directions_are_unit_vectors_reproducible_from_the_seed():
    theta = directions(5, 200, seed=3)
    np.testing.assert_allclose(np.linalg.norm(theta, axis=1), 1.0, rtol=1e-15)
    np.testing.assert_array_equal(theta, directions(5, 200, seed=3))


@pytest.mark.parametrize("reg", [0.01, 0.1])
def test_barycenter_matches_pot(reg):
    x = np.linspace(0.0, 1.0, 25)
    M = (x[:, None] - x[None, :]) ** 2
    A = np.stack([np.exp(-((x - c) ** 2) / 0.01) for c in (0.2, 0.5, 0.7)])
    A[1, :5] = 0.0
    A /= A.sum(axis=1, keepdims=True)
    w = np.array([0.2, 0.5, 0.3])
    got = barycenter(A, M, reg, w, tol=1e-10, full=True)
    want = ot.bregman.barycenter(A.T, M, reg, w, method="sinkhorn_log", stopThr=1e-10)
    assert got.converged
    # same iteration and stopping rule; POT's log(A + 1e-16) vs exact zeros
    np.testing.assert_allclose(got.barycenter, want, atol=1e-8)


@pytest.mark.parametrize("seed", range(6))
def test_barycenter_kernel_domain_up_to_its_spread_and_log_past_it_match_pot(seed):
    from otswarm.ot.barycenter import KERNEL_SPREAD

    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(10, 60)), int(rng.integers(2, 7))
    x = np.sort(rng.random(n))
    M = (x[:, None] - x[None, :]) ** 2 if seed % 2 else np.abs(x[:, None] - x[None, :])
    M *= 10.0 ** rng.uniform(-2, 2) / M.max()
    A = np.stack([np.exp(-((x - c) ** 2) / rng.uniform(0.003, 0.05)) for c in rng.random(k)])
    A[0, : n // 4] = 0.0
    A /= A.sum(axis=1, keepdims=True)
    w = rng.random(k)
    w /= w.sum()
    # past the old limit of 30 reg, up to the kernel domain's, then past it
    for ratio, method in ((rng.uniform(30, KERNEL_SPREAD), "kernel"), (KERNEL_SPREAD * 1.3, "log")):
        reg = float(np.ptp(M) / ratio)
        got = barycenter(A, M, reg, w, tol=1e-10, full=True)
        want = ot.bregman.barycenter(A.T, M, reg, w, method="sinkhorn_log", stopThr=1e-10)
        assert got.converged and got.method == method
        np.testing.assert_allclose(got.barycenter, want, atol=1e-8)
