"""One sweep of the kernel domain (``_kernel.row_sweep``) against the same
update written in NumPy: the relaxed row scalings, the column sums ``K^T u``,
both error sums and the cost of the plan, in both orders of the sweep (the
software-pipelined one, where two blocks of rows fit in ``PIPE_BYTES``, and
the block-by-block one), for row counts that leave a partial last block, in
float64 and float32, balanced and generalised."""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.ot._kernel import BLOCK, PIPE_BYTES, row_sweep
from otswarm.ot._scaling import KEEP

TINY = float(np.finfo(np.float64).tiny)
# relative tolerance of a sweep against float64 NumPy: float64 rounding, or the
# float32 products and sums of a float32 kernel (bound of row_sweep's docstring)
RTOL = {np.float64: 1e-12, np.float32: 2e-5}


def _reference(K, v, a, u, omega, phi, residual, C):
    """The sweep in float64 NumPy: ``(u new, t, sum e^2, sum |d|, cost)``."""
    K64 = K.astype(np.float64)
    s = K64 @ v
    plain = (a / s) ** phi
    relaxed = omega * plain + (1.0 - omega) * u
    new = np.where(relaxed >= KEEP * plain, relaxed, plain)
    d = new * s - a
    e = s * (plain - u) if residual else d
    cost = float(new @ ((K64 * C.astype(np.float64)) @ v)) if C is not None else 0.0
    return new, K64.T @ new, float(e @ e), float(np.abs(d).sum()), cost


def _shapes(dtype):
    """Column counts on both sides of the pipelining threshold."""
    widest_pipelined = PIPE_BYTES // (2 * BLOCK * np.dtype(dtype).itemsize) - 1
    return (3, 16, widest_pipelined, widest_pipelined + 1, 2 * widest_pipelined)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 9, 18])
@pytest.mark.parametrize("with_cost", [False, True])
@pytest.mark.parametrize("generalised", [False, True])
def test_a_sweep_is_the_relaxed_update_and_its_column_sums(dtype, n, with_cost, generalised):
    rng = np.random.default_rng(n)
    for m in _shapes(dtype):
        K = (rng.random((n, m)) + 0.05).astype(dtype)
        C = rng.random((n, m)).astype(dtype) if with_cost else None
        v = rng.random(m) + 0.5
        a = rng.random(n) + 0.1
        u = rng.random(n) + 0.5
        omega, phi = (1.4, 0.8) if generalised else (1.6, 1.0)
        want_u, want_t, want_err, want_l1, want_cost = _reference(
            K, v, a, u, omega, phi, generalised, C
        )
        t, vk = np.full(m, np.nan), np.empty(m, dtype)
        got_u = u.copy()
        ok, err, l1, cost = row_sweep(K, v, vk, a, got_u, t, omega, phi, generalised, TINY, C)
        rtol = RTOL[dtype]
        assert ok
        np.testing.assert_allclose(got_u, want_u, rtol=rtol)
        np.testing.assert_allclose(t, want_t, rtol=rtol)
        # a row whose relaxed value was clamped to the plain update has d = 0 up to rounding
        assert err == pytest.approx(want_err, rel=rtol * 10, abs=(rtol * np.abs(a).sum()) ** 2)
        assert l1 == pytest.approx(want_l1, rel=rtol * 10, abs=rtol * np.abs(a).sum())
        assert cost == pytest.approx(want_cost, rel=rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad_row", [0, 5, 8])
def test_a_row_sum_that_vanishes_fails_the_sweep(dtype, bad_row):
    n = 9
    for m in _shapes(dtype):
        K = np.ones((n, m), dtype)
        K[bad_row] = 0.0
        t, vk = np.empty(m), np.empty(m, dtype)
        ok, _, _, _ = row_sweep(K, np.ones(m), vk, np.ones(n), np.ones(n), t, 1.0, 1.0, False,
                                TINY, None)  # fmt: skip
        assert not ok
