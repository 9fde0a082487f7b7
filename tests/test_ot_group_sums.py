"""The column sums ``t = K^T u`` of a float32 sweep (``_kernel.row_sweep``):
the axpy terms of ``GROUP`` blocks of rows are summed in float32, the groups
in float64, so ``t`` stays within ``(GROUP + 3) 2^-24`` relative of its exact
value however many rows there are, where one float32 running sum drifts by
``n`` roundings (8.5e-6 relative over 100 000 rows of terms near 0.1)."""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.ot._kernel import BLOCK, GROUP, row_sweep

BOUND = (GROUP + 3) * 2.0**-24  # the docstring's bound of a group's float32 sum
TINY32 = float(np.finfo(np.float32).tiny)


def _sweep(K, v, a, acc=None):
    """One plain sweep from ``u = 1``: ``(ok, u, t)``."""
    n, m = K.shape
    u, t = np.ones(n), np.empty(m)
    acc = np.full(m, np.nan, dtype=np.float32) if acc is None else acc  # garbage: must be reset
    ok, _, _, _ = row_sweep(K, v, np.empty(m, np.float32), a, u, t, 1.0, 1.0, False, TINY32,
                            K[:0], acc)  # fmt: skip
    return ok, u, t


def _exact_t(K, u):
    return K.astype(np.float64).T @ u


@pytest.mark.parametrize("n", [100_003, 4 * BLOCK * GROUP + 3, 1, BLOCK * GROUP, 7])
def test_float32_column_sums_stay_within_the_group_bound_at_any_number_of_rows(n):
    """Terms near 0.1 in every column: a float32 running sum over all rows
    drifts past 1e-6 relative at 100 000 rows; the group sums stay within
    BOUND, for partial last groups and blocks too (``n`` not a multiple of
    ``BLOCK`` or of ``GROUP`` blocks)."""
    rng = np.random.default_rng(n)
    m = 6
    K = (0.1 + 0.01 * rng.random((n, m))).astype(np.float32)
    v = np.full(m, 1.0)
    a = K.astype(np.float64).sum(1) * (1.0 + 0.01 * rng.random(n))  # u = a / K v, near 1
    ok, u, t = _sweep(K, v, a)
    assert ok
    want = _exact_t(K, u)
    np.testing.assert_allclose(t, want, rtol=BOUND, atol=0.0)
    np.testing.assert_allclose(u, a / (K.astype(np.float64) @ v), rtol=(m / 64 + 6) * 2.0**-23)
    if n >= 100_000:  # the drift the groups prevent: one float32 sum over the rows
        running = np.zeros(m, np.float32)
        for row, w in zip(K, u.astype(np.float32), strict=True):
            running += w * row
        assert np.max(np.abs(running - want) / want) > 4 * BOUND


def test_a_column_far_smaller_than_the_others_keeps_its_own_relative_accuracy():
    """The bound is relative to each column's own sum (every term positive): a
    column 1e-30 of the others, its terms spread over 10 decades, is as exact."""
    rng = np.random.default_rng(3)
    n, m = 20_011, 5
    K = (0.5 + rng.random((n, m))).astype(np.float32)
    K[:, 2] = (1e-30 * 10.0 ** rng.uniform(-5, 5, n)).astype(np.float32)
    v = np.array([1.0, 1.0, 1e30, 1.0, 1.0])
    a = np.full(n, 1.0)
    ok, u, t = _sweep(K, v, a)
    assert ok
    np.testing.assert_allclose(t, _exact_t(K, u), rtol=BOUND, atol=0.0)


def test_a_float32_sweep_refuses_a_group_array_too_short():
    K = np.ones((8, 5), np.float32)
    with pytest.raises(ValueError, match="acc"):
        _sweep(K, np.ones(5), np.ones(8), acc=np.empty(4, np.float32))
