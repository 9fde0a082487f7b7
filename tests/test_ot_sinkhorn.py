"""otswarm.ot.sinkhorn against POT (sinkhorn2 and sinkhorn_log), random and adversarial."""

from __future__ import annotations

import numpy as np
import ot
import pytest
from ot_cases import cloud_problem

from otswarm.ot import OTResult, sinkhorn
from otswarm.ot._solver import KERNEL_SPREAD

pytestmark = pytest.mark.usefixtures("ot_warm")

# relative cost agreement in float64: both solvers stop at a marginal violation
# <= 1e-9, which moves <P, M> (max M = 1) by far less than 1e-6
RTOL64 = 1e-6
# float32: 24-bit mantissas and a 1e-6 stopping threshold
RTOL32 = 2e-3


def _pot_log(a, b, M, reg):
    return float(ot.sinkhorn2(a, b, M, reg, method="sinkhorn_log", numItermax=50000, stopThr=1e-10))


@pytest.mark.parametrize("reg", [1e-3, 1e-2, 1e-1, 1.0, 10.0])
@pytest.mark.parametrize("n, m", [(12, 12), (23, 9)])
def test_matches_pot_log_domain_over_reg_range(n, m, reg):
    a, b, M = cloud_problem(n, m, seed=n + m)
    got = sinkhorn(a, b, M, reg, method="log", max_iter=50000, tol=1e-10)
    assert got.converged and got.method == "log"
    assert got.cost == pytest.approx(_pot_log(a, b, M, reg), rel=RTOL64)
    assert np.all(np.isfinite(got.plan)) and got.marginal_error < 1e-8


@pytest.mark.parametrize("reg", [0.05, 0.3, 3.0])
def test_kernel_domain_matches_pot_sinkhorn_knopp(reg):
    a, b, M = cloud_problem(40, 31, seed=3)
    got = sinkhorn(a, b, M, reg, method="kernel", max_iter=20000)
    want = ot.sinkhorn2(a, b, M, reg, numItermax=20000, stopThr=1e-9)
    assert got.converged and got.method == "kernel"
    assert got.cost == pytest.approx(float(want), rel=RTOL64)
    pot_plan = ot.sinkhorn(a, b, M, reg, numItermax=20000, stopThr=1e-9)
    # plans agree entrywise up to the marginal violations of the two stops
    np.testing.assert_allclose(got.plan, pot_plan, atol=1e-8)


def test_auto_picks_log_for_small_reg_and_kernel_for_large():
    a, b, M = cloud_problem(10, 10, seed=1)
    assert sinkhorn(a, b, M, 1e-3, max_iter=20000).method == "log"
    assert sinkhorn(a, b, M, 1.0).method == "kernel"


def test_kernel_request_falls_back_to_log_instead_of_nan():
    a, b, M = cloud_problem(15, 15, seed=2)
    got = sinkhorn(a, b, M * 1e4, 1e-2, method="kernel", max_iter=50000)  # exp(-1e6) underflows
    assert got.method == "log" and np.all(np.isfinite(got.plan))
    assert np.all(np.isfinite(got.f)) and np.all(np.isfinite(got.g))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # POT takes log(0)
def test_zero_weights_give_zero_rows_and_finite_potentials():
    a, b, M = cloud_problem(14, 11, seed=5)
    a[[0, 6]] = 0.0
    b[3] = 0.0
    a, b = a / a.sum(), b / b.sum()
    got = sinkhorn(a, b, M, 0.05)
    assert got.converged
    assert np.all(got.plan[[0, 6]] == 0.0) and np.all(got.plan[:, 3] == 0.0)
    assert np.all(np.isfinite(got.f)) and np.all(np.isfinite(got.g))
    assert got.cost == pytest.approx(_pot_log(a, b, M, 0.05), rel=RTOL64)


def test_duplicated_points():
    a, b, M = cloud_problem(10, 10, seed=6)
    M = np.vstack([M, M[:4]])  # four source points duplicated
    a = np.concatenate([a, a[:4]])
    a /= a.sum()
    got = sinkhorn(a, b, M, 0.01, max_iter=20000)
    assert got.converged
    assert got.cost == pytest.approx(_pot_log(a, b, M, 0.01), rel=RTOL64)


@pytest.mark.parametrize("method", ["kernel", "log"])
def test_float32_in_float32_out(method):
    a, b, M = cloud_problem(30, 20, seed=7, dtype=np.float32)
    got = sinkhorn(a, b, M, 0.1, method=method)
    assert got.plan.dtype == np.float32 and got.f.dtype == np.float32
    assert got.converged
    want = _pot_log(a.astype(np.float64), b.astype(np.float64), M.astype(np.float64), 0.1)
    assert got.cost == pytest.approx(want, rel=RTOL32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(10))
def test_auto_stays_in_the_kernel_domain_up_to_its_spread_with_the_log_domain_answer(dtype, seed):
    """``auto`` takes the kernel domain up to a reduced cost spread of
    ``KERNEL_SPREAD`` times ``reg`` (400 in float64, 60 in float32), where it
    gives the log domain's answer: cost within 1e-6 relative (float32 1e-4) of
    a tight float64 log-domain solve, the marginal violation of the plan
    (measured in float64, L2 as the stopping test) within 10 times the dtype's
    default tolerance (the plan's own rounding adds to it). Varied sizes,
    weights, cost scales, spreads from 30 reg to the limit."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 200)), int(rng.integers(2, 200))
    a, b, M = cloud_problem(n, m, seed=100 + seed, dim=int(rng.integers(1, 5)))
    if seed % 3 == 2:  # sparse weights
        a, b = a**6 + 1e-5, b**6 + 1e-5
        a, b = a / a.sum(), b / b.sum()
    M = M * 10 ** rng.uniform(-3, 3)
    limit = KERNEL_SPREAD[np.dtype(dtype)]
    reg = float((M - M.min(axis=0)).max() / rng.uniform(30, limit))
    want = sinkhorn(a, b, M, reg, method="log", tol=1e-10, max_iter=20000)
    got = sinkhorn(a.astype(dtype), b.astype(dtype), M.astype(dtype), reg, max_iter=20000)
    assert got.method == "kernel" and got.converged and want.converged
    assert float(got.cost) == pytest.approx(want.cost, rel=1e-6 if dtype == np.float64 else 1e-4)
    P = got.plan.astype(np.float64)
    violation = np.hypot(np.linalg.norm(P.sum(axis=1) - a), np.linalg.norm(P.sum(axis=0) - b))
    assert violation < (1e-8 if dtype == np.float64 else 1e-5)


def test_auto_goes_to_the_log_domain_past_its_spread():
    a, b, M = cloud_problem(20, 30, seed=3)
    spread = (M - M.min(axis=0)).max()
    assert sinkhorn(a, b, M, spread / (1.01 * KERNEL_SPREAD[M.dtype])).method == "log"
    assert sinkhorn(a, b, M, spread / (0.99 * KERNEL_SPREAD[M.dtype])).method == "kernel"


def test_warm_start_converges_at_once_to_the_same_answer():
    a, b, M = cloud_problem(25, 25, seed=8)
    cold = sinkhorn(a, b, M, 0.01, max_iter=20000)
    warm = sinkhorn(a, b, M, 0.01, init=(cold.f, cold.g), max_iter=20000)
    assert warm.converged and warm.n_iter <= 3  # started at the optimum
    assert warm.cost == pytest.approx(cold.cost, rel=RTOL64)


def test_not_converged_is_reported_with_finite_output():
    a, b, M = cloud_problem(20, 20, seed=9)
    got = sinkhorn(a, b, M, 1e-3, max_iter=5)
    assert isinstance(got, OTResult)
    assert not got.converged and got.n_iter == 5
    assert np.all(np.isfinite(got.plan)) and np.isfinite(got.cost)


def test_unnormalised_mass_and_large_cost_offset():
    a, b, M = cloud_problem(9, 13, seed=10)
    base = sinkhorn(a, b, M, 0.05)
    heavy = sinkhorn(a * 1e6, b * 1e6, M + 1e5, 0.05)
    # the plan scales with the mass; a constant cost offset does not change it
    np.testing.assert_allclose(heavy.plan / 1e6, base.plan, atol=1e-10)
    assert heavy.cost == pytest.approx(1e6 * (base.cost + 1e5), rel=1e-9)


def test_potentials_give_back_the_plan():
    a, b, M = cloud_problem(12, 7, seed=11)
    got = sinkhorn(a, b, M, 0.02, method="log")
    rebuilt = np.exp((got.f[:, None] + got.g[None, :] - M) / got.reg)
    np.testing.assert_allclose(rebuilt, got.plan, rtol=1e-9, atol=1e-300)
