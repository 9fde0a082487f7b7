"""The kernel build of the kernel-domain ``sinkhorn`` (``_kernel.build``: the
column-shifted ``exp`` in the dtype of ``M``) and the solves that rest on it,
against NumPy's ``exp`` and POT, in float64 and float32, on the edge cases:
exponents far below the smallest normal number, huge costs, tiny and large
``reg``, ``n != m``, a single row or column."""

from __future__ import annotations

import numpy as np
import ot
import pytest
from ot_cases import cloud_problem

from otswarm.ot import sinkhorn
from otswarm.ot._fastexp import FLOOR, FLOOR_32, LOG2E, exp_clamped, fast_exp2_32
from otswarm.ot._kernel import build, column_range, spread

pytestmark = pytest.mark.usefixtures("ot_warm")
DTYPES = (np.float64, np.float32)


def _built(M, eps):
    """``K``, ``t`` of :func:`build` and the exact float64 exponents (its work
    arrays start full of garbage: it must not read them before writing)."""
    lo, hi = np.empty(M.shape[1]), np.empty(M.shape[1])
    assert column_range(M, lo, hi)
    K, t = np.empty_like(M), np.empty(M.shape[1])
    shift, sums = np.full((2, M.shape[1]), 7.0, dtype=M.dtype)
    build(M, lo, spread(lo, hi), eps, K, t, float(np.finfo(M.dtype).tiny), shift, sums)
    x = (lo - M.astype(np.float64)) / eps
    return K, t, x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 37), (37, 1), (1, 1), (7, 5), (256, 200), (13, 300)])
def test_the_kernel_is_exp_of_the_shifted_cost_and_t_its_column_sums(dtype, shape):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    M = (rng.random(shape) * 3.0).astype(dtype)
    eps = 0.11  # exponents down to about -27
    K, t, x = _built(M, eps)
    assert K.dtype == dtype
    ulp = np.finfo(dtype).eps
    # the exponent is rounded in the dtype (|x| ulps), the exp within 1.2 ulp
    want = np.exp(x)
    assert np.all(np.abs(K - want) <= (np.abs(x) + 2.0) * ulp * want)
    assert np.all(K.max(axis=0) == 1.0)  # the column shift: every column holds exp(0)
    np.testing.assert_allclose(t, K.astype(np.float64).sum(axis=0), rtol=shape[0] * ulp)


@pytest.mark.parametrize("dtype", DTYPES)
def test_entries_below_the_smallest_normal_are_exactly_zero_and_no_entry_is_subnormal(dtype):
    rng = np.random.default_rng(5)
    floor = FLOOR if dtype == np.float64 else float(FLOOR_32)
    # exponents spread over [-3 |FLOOR|, 0]: a third of them underflow
    M = (rng.random((61, 43)) * 3.0 * -floor).astype(dtype)
    K, t, x = _built(M, 1.0)
    assert np.all((K == 0.0) | (np.finfo(dtype).tiny <= K))
    assert np.all(K[x < floor - 0.01] == 0.0)
    normal = x > floor + 1.0
    want = np.exp(x[normal])
    ulp = np.finfo(dtype).eps
    assert np.all(np.abs(K[normal] - want) <= (np.abs(x[normal]) + 2.0) * ulp * want)
    np.testing.assert_allclose(t, K.astype(np.float64).sum(axis=0), rtol=61 * ulp)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("margin", [-3.0, -1.01, -0.99, 0.0, 0.5])
def test_the_build_takes_the_unflushed_exp_only_where_every_exponent_is_normal(dtype, margin):
    """Lowest exponent ``FLOOR + 1 + margin``: the unflushed ``exp`` above the
    threshold (margin > 0 .. -1), the flushed one past it; either way every
    entry is exact to its ulps, normal or 0, never negative or garbage."""
    floor = FLOOR if dtype == np.float64 else float(FLOOR_32)
    lowest = floor + 1.0 + margin
    rng = np.random.default_rng(int(margin * 100) + 400)
    M = rng.random((9, 33)) * -lowest
    M[0] = 0.0  # every column's minimum is 0 ...
    M[1] = -lowest  # ... and its maximum the lowest exponent (eps = 1)
    K, t, x = _built(M.astype(dtype), 1.0)
    assert np.all((K == 0.0) | (np.finfo(dtype).tiny <= K)) and np.all(np.isfinite(K))
    ulp = np.finfo(dtype).eps
    normal = x > floor + 0.01
    want = np.exp(x[normal])
    assert np.all(np.abs(K[normal] - want) <= (np.abs(x[normal]) + 2.0) * ulp * want)
    assert np.all(K[x < floor - 0.01] == 0.0)
    np.testing.assert_allclose(t, K.astype(np.float64).sum(axis=0), rtol=9 * ulp)


def test_the_clamped_exp_gives_exact_zeros_far_below_the_floor_whatever_tiny():
    for x in (FLOOR - 0.36, FLOOR - 1.0, FLOOR - 5.0, -1e300, -np.inf):
        assert exp_clamped(x) == 0.0
    zero, unit = np.float32(0.0), np.float32(LOG2E)  # float32 works in base 2: 2^(x log2 e)
    for x in (FLOOR_32 - 0.36, FLOOR_32 - 7.0, -3e38, -np.inf):
        assert fast_exp2_32(np.float32(x), unit, zero) == 0.0
    assert fast_exp2_32(np.float32(-1.0), np.float32(127.0), zero) == 0.0  # 2^-127
    assert exp_clamped(FLOOR + 0.5) == pytest.approx(np.exp(FLOOR + 0.5), rel=1e-15)
    assert exp_clamped(0.0) == 1.0 and fast_exp2_32(zero, unit, zero) == 1.0


def _pot_cost(a, b, M, reg):
    plan = ot.bregman.sinkhorn_log(a, b, M, reg, numItermax=100000, stopThr=1e-13)
    return float(np.sum(plan * M))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "n, m, reg, scale",
    [
        (1, 50, 0.05, 1.0),  # one row: the plan is b
        (50, 1, 0.05, 1.0),
        (3, 200, 0.02, 1.0),
        (257, 31, 0.2, 1e3),  # n % 4 == 1, a large cost scale
        (64, 300, 0.5, 1e-3),  # a tiny cost scale
        (120, 90, 2.0, 1.0),  # reg far above the costs: nearly a b^T
    ],
)
def test_kernel_domain_solves_match_pot_on_edge_shapes_and_scales(dtype, n, m, reg, scale):
    a, b, M = cloud_problem(n, m, seed=n + m)
    M = M * scale
    want = _pot_cost(a, b, M, reg * scale)
    got = sinkhorn(a.astype(dtype), b.astype(dtype), M.astype(dtype), reg * scale, method="kernel")
    assert got.converged and got.method == "kernel" and got.plan.dtype == dtype
    assert got.cost == pytest.approx(want, rel=1e-8 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_costs_and_a_tiny_reg_underflow_the_kernel_and_fall_back_to_the_log_domain(dtype):
    a, b, M = cloud_problem(40, 33, seed=9)
    M = M * 1e6 + 1e9  # a huge offset and spread: whole rows of exp(-M / reg) underflow
    reg = 10.0
    got = sinkhorn(a.astype(dtype), b.astype(dtype), M.astype(dtype), reg, method="kernel",
                   max_iter=100000)  # fmt: skip
    assert got.method == "log" and got.converged and np.all(np.isfinite(got.plan))
    # reg is 1e-5 of the spread: the entropic cost lies within reg * log(n m) above the exact one
    exact = ot.emd2(a, b, M.astype(dtype).astype(np.float64), numItermax=1000000)
    off = 1e-12 * exact if dtype == np.float64 else 1e-5 * exact  # the marginals' tol
    assert exact - off <= got.cost <= exact + reg * np.log(M.size) + off


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_large_spread_solved_in_the_kernel_domain_flushes_and_stays_finite(dtype):
    """Exponents down to far below the floor, yet no row or column sum
    underflows (the nearest points cover every row): the kernel domain works
    on the flushed kernel and still agrees with POT's log domain."""
    n = 30
    x = np.linspace(0.0, 1.0, n)
    M = (x[:, None] - x[None, :]) ** 2  # the diagonal is 0: every row and column holds a 1
    reg = 1.0 / 2000.0 if dtype == np.float64 else 1.0 / 250.0  # spread / reg far past -FLOOR
    a = b = np.full(n, 1.0 / n)
    got = sinkhorn(a.astype(dtype), b.astype(dtype), M.astype(dtype), reg, method="kernel",
                   max_iter=100000)  # fmt: skip
    assert got.method == "kernel" and got.converged
    plan = got.plan
    assert np.all(np.isfinite(plan)) and np.all(plan >= 0.0)
    rel = 1e-7 if dtype == np.float64 else 1e-3
    assert got.cost == pytest.approx(_pot_cost(a, b, M, reg), rel=rel)
