"""``sinkhorn_unbalanced``'s reference shift folded into the kernel domain:
the reduced cost ``S_ij = M_ij - row_i - col_j`` (``row = reg log a``, ``col =
reg log b``) is never written there. Its column ranges
(``_kernel.reduced_column_range``) and kernel (``_kernel.build_with_copy``
with a row offset) against NumPy on ``S`` itself, exactly where the math is
exact; whole solves against POT and against the log domain, which does write
``S``, on problems whose row and column offsets differ (so an offset applied
to the wrong side, or twice, moves the plan far past the tolerances)."""

from __future__ import annotations

import math

import numpy as np
import ot
import pytest
from ot_cases import assert_unbalanced_plan_is_right

from otswarm.ot import OTInputError, _driver, sinkhorn_unbalanced
from otswarm.ot._kernel import NARROW_RANGE_MIN, build_with_copy, reduced_column_range, spread
from otswarm.ot._solver import KERNEL, LOG

pytestmark = pytest.mark.usefixtures("ot_warm")
DTYPES = (np.float64, np.float32)
# the last three on both sides of NARROW_RANGE_MIN (float32 ranges kept in float32)
SHAPES = [(1, 9), (9, 1), (7, 5), (13, 30), (65, 63), (66, 63), (130, 97)]


def test_the_shapes_straddle_the_size_of_the_float32_narrow_ranges():
    assert 65 * 63 < NARROW_RANGE_MIN <= 66 * 63


def _offsets(rng, n):
    """A row offset of spread values, in float64 (as ``reg log a``)."""
    return 0.05 * np.log(rng.random(n) ** 3 + 1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_the_reduced_column_ranges_are_those_of_m_minus_the_row_offset(dtype, shape):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    M = rng.random(shape).astype(dtype)
    alpha = _offsets(rng, shape[0])
    lo, hi = np.full(shape[1], 5.0), np.full(shape[1], -5.0)
    assert reduced_column_range(M, alpha, lo, hi)
    reduced = M - alpha.astype(dtype)[:, None]  # in the dtype of M, as the pass takes it
    np.testing.assert_array_equal(lo, reduced.min(axis=0))
    np.testing.assert_array_equal(hi, reduced.max(axis=0))
    # no offset at all: the ranges of M
    assert reduced_column_range(M, None, lo, hi)
    np.testing.assert_array_equal(lo, M.min(axis=0))
    np.testing.assert_array_equal(hi, M.max(axis=0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lo_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 3, 4, 5, 8, 9, 13, 64, 65])
def test_the_ranges_through_a_scratch_are_those_in_place_for_odd_and_even_block_counts(
    dtype, lo_dtype, n
):
    """With ``scratch`` the bounds alternate between it and ``lo, hi`` from
    one block of 4 rows to the next (an odd or even count of blocks, the last
    one partial or not): the same bounds as in place, ``lo, hi`` written
    last, the scratch (garbage on entry) never read before it is written; a
    float32 ``M`` this size (from ``NARROW_RANGE_MIN`` entries) alternates
    within the memory of ``lo, hi``."""
    m = NARROW_RANGE_MIN // n + 3 if n >= 64 else 7
    rng = np.random.default_rng(n)
    M = rng.standard_normal((n, m)).astype(dtype)
    alpha = _offsets(rng, n)
    reduced = M - alpha.astype(dtype)[:, None]
    for offsets, want in ((None, M), (alpha, reduced)):
        lo, hi = np.full(m, 7.0, dtype=lo_dtype), np.full(m, -7.0, dtype=lo_dtype)
        scratch = np.full(2 * m + 3, np.nan)
        assert reduced_column_range(M, offsets, lo, hi, scratch)
        np.testing.assert_array_equal(lo, want.min(axis=0).astype(lo_dtype))
        np.testing.assert_array_equal(hi, want.max(axis=0).astype(lo_dtype))
        bad = M.copy()
        bad[n // 2, m // 2] = np.nan
        assert not reduced_column_range(bad, offsets, lo, hi, scratch)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 5), (130, 97)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_entry_is_reported_through_the_offset(dtype, shape, bad):
    n, m = shape
    M = np.random.default_rng(0).random(shape).astype(dtype)
    M[n - 1, m - 2] = bad  # in the last, partial block of rows
    lo, hi = np.empty(m), np.empty(m)
    assert not reduced_column_range(M, np.linspace(-1.0, 0.0, n), lo, hi)
    assert not reduced_column_range(M, None, lo, hi)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_the_kernel_with_a_row_offset_is_exp_of_the_column_shifted_reduced_cost(dtype, shape):
    rng = np.random.default_rng(shape[0] * 7 + shape[1])
    n, m = shape
    M = (rng.random(shape) * 2.0).astype(dtype)
    alpha = _offsets(rng, n)
    eps = 0.1
    lo, hi = np.empty(m), np.empty(m)
    assert reduced_column_range(M, alpha, lo, hi)
    K, t = np.empty_like(M), np.empty(m)
    low = np.full((n if dtype == np.float64 else 0, m), np.nan, dtype=np.float32)  # float64 only
    shift, sums = np.full((2, m), 7.0, dtype=dtype)
    build_with_copy(M, alpha, lo, spread(lo, hi), eps, K, t, float(np.finfo(dtype).tiny), shift,
                    sums, low)  # fmt: skip
    reduced = (M - alpha.astype(dtype)[:, None]).astype(np.float64)
    want = np.exp((lo - reduced) / eps)  # = exp((alpha_i + beta_j - M_ij) / eps)
    np.testing.assert_allclose(K, want, rtol=4e-15 if dtype == np.float64 else 4e-6)
    assert np.all(K <= 1.0) and np.all(K.max(axis=0) == 1.0)  # every column holds a 1
    np.testing.assert_allclose(t, K.sum(axis=0, dtype=np.float64), rtol=1e-5)
    np.testing.assert_array_equal(low, K.astype(np.float32)[: low.shape[0]])
    # the offset is that of the rows: the transposed reading is another kernel
    if n == m:
        wrong = np.exp((lo - (M - alpha[None, :]).astype(np.float64)) / eps)
        assert not np.allclose(K, wrong, rtol=1e-3)


def _problem(seed, n=120, m=90):
    """Sparse row weights and uniform column weights of another mass: the
    offsets ``reg log a`` and ``reg log b`` differ row by row and from each other."""
    rng = np.random.default_rng(seed)
    x, y = rng.random((n, 2)), rng.normal(0.5, 0.3, (m, 2))
    M = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    M /= M.max()
    a = rng.random(n) ** 6 + 1e-5
    a /= a.sum()
    b = np.full(m, 1.7 / m)
    return a, b, M, float(rng.uniform(0.05, 0.1)), float(10.0 ** rng.uniform(-0.5, 0.5))


@pytest.mark.parametrize("seed", range(4))
def test_kernel_domain_solves_of_the_reduced_cost_are_pots(seed):
    a, b, M, reg, rho = _problem(seed)
    got = sinkhorn_unbalanced(a, b, M, reg, rho, tol=1e-9, max_iter=20000)
    assert got.converged and got.method == "unbalanced"
    assert_unbalanced_plan_is_right(got, a, b, M, reg, rho)
    # the same on the transposed problem: rows and columns trade their offsets
    back = sinkhorn_unbalanced(b, a, M.T.copy(), reg, rho, tol=1e-9, max_iter=20000)
    np.testing.assert_allclose(back.plan, got.plan.T, rtol=1e-5, atol=1e-9 / M.size)


@pytest.mark.parametrize("seed", range(4))
def test_the_potentials_give_the_plan_against_the_reference_measure(seed):
    """``P = exp((f_i + g_j - M_ij) / reg) a_i b_j`` (``reg_type="kl"``): the
    kernel domain's shifts are those of ``S``, not of ``M``."""
    a, b, M, reg, rho = _problem(seed)
    got = sinkhorn_unbalanced(a, b, M, reg, rho, tol=1e-9, max_iter=20000)
    rebuilt = np.exp((got.f[:, None] + got.g[None, :] - M) / reg) * a[:, None] * b[None, :]
    np.testing.assert_allclose(rebuilt, got.plan, rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("seed", range(4))
def test_the_kernel_domain_agrees_with_the_log_domain_that_writes_the_reduced_cost(seed):
    a, b, M, reg, rho = _problem(seed)
    shift = (reg * np.log(a), reg * np.log(b))
    common = dict(init=None, max_iter=20000, tol=1e-10, check_every=1, rho=(rho, rho),
                  anneal=False, name="unbalanced", shift=shift)  # fmt: skip
    kernel = _driver.scaling_solve(a, b, M, reg, mode=KERNEL, **common)
    log = _driver.scaling_solve(a, b, M, reg, mode=LOG, **common)
    assert kernel.converged and log.converged
    np.testing.assert_allclose(kernel.plan, log.plan, rtol=1e-6, atol=1e-10 / M.size)
    np.testing.assert_allclose(kernel.f, log.f, rtol=0, atol=1e-6 * reg)
    np.testing.assert_allclose(kernel.g, log.g, rtol=0, atol=1e-6 * reg)
    assert kernel.cost == pytest.approx(float(np.sum(log.plan * M)), rel=1e-8)
    # the cost is <P, M>, not <P, S>
    S = M - shift[0][:, None] - shift[1][None, :]
    assert not math.isclose(kernel.cost, float(np.sum(kernel.plan * S)), rel_tol=1e-3)
    want = ot.unbalanced.sinkhorn_unbalanced(a, b, M, reg, rho, numItermax=100000, stopThr=1e-14)
    np.testing.assert_allclose(kernel.plan, want, rtol=1e-5, atol=1e-9 / M.size)


NON_FINITE = "M: contains NaN or inf \\(costs must be finite\\)"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("options", [{}, {"reg_type": "entropy"}, {"reg_m": math.inf}])
def test_a_non_finite_cost_raises_the_typed_error_from_the_column_ranges(dtype, bad, options):
    """``sinkhorn_unbalanced`` takes the finiteness of ``M`` from the column
    ranges (no pass of its own on a full support): the same error as every
    other solver's, with the offsets of either reference measure and for
    hard marginals, wherever the entry is (the last, partial block of rows)."""
    a, b, M, reg, rho = _problem(0, n=13, m=9)
    b = b * (a.sum() / b.sum()) if options.get("reg_m") == math.inf else b
    kwargs = {"reg_m": rho, **options}
    for i, j in [(0, 0), (12, 8), (6, 3)]:
        bad_M = M.copy()
        bad_M[i, j] = bad
        with pytest.raises(OTInputError, match=NON_FINITE):
            sinkhorn_unbalanced(a.astype(dtype), b.astype(dtype), bad_M.astype(dtype), reg,
                                **kwargs)  # fmt: skip
        with pytest.raises(OTInputError, match=NON_FINITE):  # a warm start reads it too
            good = sinkhorn_unbalanced(a, b, M, reg, **kwargs)
            sinkhorn_unbalanced(a, b, bad_M, reg, init=(good.f, good.g), **kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("side", ["row", "column"])
def test_a_non_finite_cost_of_a_point_without_mass_is_an_error_too(dtype, side):
    """The column ranges see only the support; a zero weight checks all of
    ``M`` (the point's potential on the full grid is a c-transform over its
    costs, so a NaN there would come back as a NaN potential)."""
    a, b, M, reg, rho = _problem(1, n=13, m=9)
    bad_M = M.copy()
    if side == "row":
        a[4], bad_M[4, 2] = 0.0, np.nan
    else:
        b[7], bad_M[5, 7] = 0.0, np.nan
    with pytest.raises(OTInputError, match=NON_FINITE):
        sinkhorn_unbalanced(a.astype(dtype), b.astype(dtype), bad_M.astype(dtype), reg, rho)
    # the same problem with that cost finite solves, with finite potentials
    bad_M[np.isnan(bad_M)] = 0.5
    got = sinkhorn_unbalanced(a.astype(dtype), b.astype(dtype), bad_M.astype(dtype), reg, rho)
    assert got.converged and np.all(np.isfinite(got.f)) and np.all(np.isfinite(got.g))
