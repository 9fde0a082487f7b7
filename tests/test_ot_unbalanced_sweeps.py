"""The over-relaxed generalised sweeps of ``sinkhorn_unbalanced``
(``_kernel.sweeps`` with exponents below 1) against plain generalised Sinkhorn
with the same start and stopping test, and their plans against POT's; started
on the float32 copy of the kernel or not, the plan they end on is the
kernel's, measured (marginal error, cost) as it is returned."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ot_cases import assert_unbalanced_plan_is_right

from otswarm.ot import sinkhorn_unbalanced
from otswarm.ot._kernel import (
    RATE_WINDOW,
    build_with_copy,
    plan_cost,
    reduced_column_range,
    spread,
    sweeps,
    takes_copy,
)
from otswarm.ot._scaling import CONVERGED, MAX_ITER

pytestmark = pytest.mark.usefixtures("ot_warm")
TINY = float(np.finfo(np.float64).tiny)


def _plain_sweeps(a, b, M, reg, rho, tol):
    """Sweeps of plain generalised Sinkhorn (Chizat et al. 2018) from the start
    of the kernel domain (reference shift, column shift, ``u = 1``) to the same
    stop: the L2 norm of the change of both marginals that one update makes."""
    shifted = M - reg * np.log(a)[:, None] - reg * np.log(b)[None, :]
    beta = shifted.min(axis=0)
    K = np.exp((beta - shifted) / reg)
    phi = rho / (rho + reg)
    col_factor = np.exp(-(1.0 - phi) * beta / reg)
    u = np.ones(len(a))
    v = (b / K.sum(axis=0)) ** phi * col_factor
    for it in range(1, 100000):
        s = K @ v
        plain_u = (a / s) ** phi
        t = K.T @ plain_u
        plain_v = (b / t) ** phi * col_factor
        if math.hypot(np.linalg.norm(s * (plain_u - u)), np.linalg.norm(t * (plain_v - v))) < tol:
            return it
        u, v = plain_u, plain_v
    raise AssertionError("plain Sinkhorn did not converge")


def _problem(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(150, 400)), int(rng.integers(150, 400))
    dim = int(rng.integers(1, 5))
    x, y = rng.random((n, dim)), rng.normal(0.5, 0.3, (m, dim))
    M = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    M /= M.max()
    uniform = seed % 2 == 0
    a = np.ones(n) if uniform else rng.random(n) + 0.05
    b = np.ones(m) if uniform else rng.random(m) + 0.05
    a, b = a / a.sum(), b / b.sum() * rng.uniform(0.5, 2.0)
    reg = float(rng.uniform(0.04, 0.12))
    rho = float(10.0 ** rng.uniform(-0.5, 1.0))
    return a, b, M, reg, rho


def test_relaxed_sweeps_never_outnumber_plain_ones_and_the_plan_stays_right():
    tol = 1e-9
    ours, plain = [], []
    for seed in range(16):
        a, b, M, reg, rho = _problem(seed)
        got = sinkhorn_unbalanced(a, b, M, reg, rho, tol=tol, max_iter=20000)
        assert got.converged and got.method == "unbalanced"
        assert_unbalanced_plan_is_right(got, a, b, M, reg, rho)
        ours.append(got.n_iter)
        plain.append(_plain_sweeps(a, b, M, reg, rho, tol))
    assert all(o <= p for o, p in zip(ours, plain, strict=True)), (ours, plain)
    # a fallback to plain sweeps on the growth that follows the start of the
    # relaxation, or a rate estimated once from the first sweeps, leaves
    # three quarters of the plain sweeps (0.76 on these problems; 0.14 now)
    assert sum(ours) < 0.25 * sum(plain), (ours, plain)


def _generalised_kernel(a, b, M, reg, rho, copy):
    """The kernel domain of ``sinkhorn_unbalanced`` built as the solver builds
    it: ``K``, ``t = K^T 1``, the float32 copy (no rows: none), the column
    factor and ``phi``."""
    n, m = M.shape
    row = reg * np.log(a)
    lo, hi = np.empty(m), np.empty(m)
    assert reduced_column_range(M, row, lo, hi)
    K, t = np.empty_like(M), np.empty(m)
    low = np.empty((n if copy else 0, m), np.float32)
    build_with_copy(M, row, lo, spread(lo, hi), reg, K, t, TINY, np.empty(m), np.empty(m), low)
    phi = rho / (rho + reg)
    beta = lo - reg * np.log(b)  # the column shift of the reduced cost
    return K, t, low, np.exp(-(1.0 - phi) * beta / reg), phi


def _generalised(K, low, a, b, t, col_factor, phi, max_iter, tol, C):
    """:func:`_kernel.sweeps` with the generalised updates: ``(n_iter, err,
    status, l1, u, v, cost)``."""
    n, m = K.shape
    u, v = np.empty(n), np.empty(m)
    work = [np.empty(m), np.empty(m), np.empty(m, np.float32), np.empty(m)]
    n_iter, err, status, l1, cost = sweeps(K, low, C, a, b, phi, phi, col_factor, u, v, t.copy(),
                                           max_iter, tol, 1, TINY, *work,
                                           np.empty(RATE_WINDOW + 1))  # fmt: skip
    return n_iter, err, status, l1, u, v, cost


def _l1(K, u, v, a, b):
    P = u[:, None] * K * v[None, :]
    return float(np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum())


@pytest.mark.parametrize("seed", range(8))
def test_generalised_sweeps_on_the_float32_copy_end_on_the_kernels_plan(seed):
    """Started on the copy or not, the sweeps converge to the same plan of
    ``K`` (only the sweeps on ``K`` decide); the returned ``l1`` is the
    marginal L1 of the returned ``(u, v)`` on ``K`` and ``cost`` its ``<P,
    M>`` (NumPy), also when stopped early by ``max_iter``."""
    a, b, M, reg, rho = _problem(seed)
    tol = 1e-10
    K, t, low, col_factor, phi = _generalised_kernel(a, b, M, reg, rho, copy=True)
    plain = _generalised(K, low[:0], a, b, t, col_factor, phi, 20000, tol, M)
    mixed = _generalised(K, low, a, b, t, col_factor, phi, 20000, tol, M)
    assert plain[2] == mixed[2] == CONVERGED and mixed[1] <= tol
    assert abs(mixed[0] - plain[0]) <= 0.2 * plain[0] + 2, (mixed[0], plain[0])
    for got in (plain, mixed):
        P = got[4][:, None] * K * got[5][None, :]
        assert got[3] == pytest.approx(_l1(K, got[4], got[5], a, b), rel=1e-9, abs=1e-15)
        cost = got[6] if got[6] == got[6] else plan_cost(K, M, got[4], got[5])
        assert cost == pytest.approx(float(np.sum(P * M)), rel=1e-12)
    P0, P1 = (g[4][:, None] * K * g[5][None, :] for g in (plain, mixed))
    np.testing.assert_allclose(P1, P0, rtol=1e-6, atol=1e-9 / M.size)
    for max_iter in (1, 2, 3, 7):
        got = _generalised(K, low, a, b, t, col_factor, phi, max_iter, 1e-300, M)
        assert got[0] == max_iter and got[2] == MAX_ITER
        assert got[3] == pytest.approx(_l1(K, got[4], got[5], a, b), rel=1e-9)
        assert got[6] == pytest.approx(plan_cost(K, M, got[4], got[5]), rel=1e-12)


def test_a_wrong_copy_costs_generalised_sweeps_not_the_answer():
    a, b, M, reg, rho = _problem(3)
    K, t, low, col_factor, phi = _generalised_kernel(a, b, M, reg, rho, copy=True)
    rng = np.random.default_rng(4)
    wrong = (K * (1.0 + 1e-2 * rng.standard_normal(K.shape))).astype(np.float32)
    plain = _generalised(K, low[:0], a, b, t, col_factor, phi, 20000, 1e-10, M)
    got = _generalised(K, wrong, a, b, t, col_factor, phi, 20000, 1e-10, M)
    assert got[2] == CONVERGED and got[1] <= 1e-10
    P0, P1 = (g[4][:, None] * K * g[5][None, :] for g in (plain, got))
    np.testing.assert_allclose(P1, P0, rtol=1e-6, atol=1e-9 / M.size)


def test_the_copy_of_a_generalised_kernel_is_taken_and_pot_agrees():
    """At these sizes and spreads ``sinkhorn_unbalanced`` starts on the copy
    (``takes_copy``), and its plan, cost and marginal error stay POT's."""
    for seed in range(4):
        a, b, M, reg, rho = _problem(seed)
        K, _, _, _, _ = _generalised_kernel(a, b, M, reg, rho, copy=False)
        lo, hi = np.empty(M.shape[1]), np.empty(M.shape[1])
        reduced_column_range(M, reg * np.log(a), lo, hi)
        assert takes_copy(K, spread(lo, hi), reg, 1e-9)
        got = sinkhorn_unbalanced(a, b, M, reg, rho, tol=1e-9, max_iter=20000)
        assert got.converged
        assert_unbalanced_plan_is_right(got, a, b, M, reg, rho)
        P = got.plan
        l1 = np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum()
        assert got.marginal_error == pytest.approx(l1, rel=1e-9)
