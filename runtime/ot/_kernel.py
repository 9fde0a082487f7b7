"""Balanced Sinkhorn in the kernel domain: one build pass, over-relaxed sweeps.

The kernel is ``K_ij = exp((beta_j - M_ij) / eps)`` with the column shift
``beta_j = min_i M_ij`` (every column holds a 1, so no column underflows).
One pass over ``M`` checks it is finite and gives the column ranges, whose
largest spread ``max_j (max_i M_ij - beta_j)`` decides whether the kernel
domain is safe (every entry is then at least ``exp(-spread / eps)``); a second
pass builds ``K`` and ``K^T 1`` (for the first column update). The shift is
per column because a column-wise min/max over rows vectorises, a row-wise
reduction does not. The plan is kept factored, ``P = diag(u) K diag(v)``.

Each sweep is the fused row/column pass of ``_scaling`` (``s = K v`` row by
row, ``t = K^T u`` accumulated from the same row) with over-relaxation
(Thibault, Chizat, Dossal, Papadakis 2017, "Overrelaxed Sinkhorn-Knopp"):
``u <- (1 - w) u + w a / K v`` and likewise for ``v``. Near the fixed point
this is the log-domain update ``u^(1-w) (a / K v)^w`` to first order, with no
``log``/``exp`` in the loop. ``w`` is 1 for the first ``RELAX_START`` sweeps;
then it is set from the observed contraction rate ``r`` of the marginal error
(Lehmann, von Renesse, Sambale, Uschmajew 2021), ``w = 2 / (1 + sqrt(1 - r))``.
Safeguards: an entry whose relaxed value would fall below half of the plain
update takes the plain update (the scalings stay positive), and when the error
grows past twice the best seen, ``w`` goes back to 1 for the rest of the solve.

The stopping test measures the plan that is returned: after the row update of
sweep ``k`` the plan ``(u, v)`` has row marginal ``u_i (K v)_i`` and column
marginal ``v_j (K^T u)_j``; the error is the L2 norm of both violations
together (with ``w = 1`` the row part is zero, as in plain Sinkhorn).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from otswarm.ot._fastexp import exp_inplace
from otswarm.ot._scaling import CONVERGED, FAILED, FAST, HUGE, MAX_ITER

RELAX_START = 6  # plain sweeps before the rate is estimated
RATE_WINDOW = 3  # sweeps over which the contraction rate is measured
MAX_RATE = 0.99  # cap of the rate estimate (w <= 1.82)
KEEP = 0.5  # a relaxed scaling never drops below this fraction of the plain update


@njit(cache=True)
def column_range(M, lo, hi):
    """``lo_j = min_i M_ij`` and ``hi_j = max_i M_ij`` in one pass over ``M``
    (row by row, so the loop over ``j`` vectorises); returns whether every
    entry is finite (the boundary check of a cost matrix)."""
    n, m = M.shape
    for j in range(m):
        lo[j] = np.inf
        hi[j] = -np.inf
    finite = True
    for i in range(n):
        for j in range(m):
            x = M[i, j]
            finite &= math.isfinite(x)
            lo[j] = x if x < lo[j] else lo[j]
            hi[j] = x if x > hi[j] else hi[j]
    return finite


@njit(cache=True)
def spread(lo, hi):
    """``max_j (hi_j - lo_j)``: the largest reduced cost ``M_ij - min_i M_ij``."""
    top = 0.0
    for j in range(lo.shape[0]):
        top = max(top, hi[j] - lo[j])
    return top


@njit(cache=True, fastmath=FAST)
def build(M, beta, eps, K, t, tiny):
    """``K_ij = exp((beta_j - M_ij) / eps)`` (``beta = lo`` of
    :func:`column_range`: every column holds a 1) and ``t = K^T 1``, in one
    pass over ``M``."""
    n, m = M.shape
    inv = 1.0 / eps
    z = np.empty(m)
    bits = np.empty(m, dtype=np.int64)
    for j in range(m):
        t[j] = 0.0
    for i in range(n):
        for j in range(m):
            z[j] = (beta[j] - M[i, j]) * inv
        exp_inplace(z, bits, tiny)
        for j in range(m):
            K[i, j] = z[j]
            t[j] += z[j]


@njit(cache=True, fastmath=FAST, inline="always")
def relaxed(omega, plain, old):
    """``(1 - omega) old + omega plain``, or ``plain`` where that would fall
    below ``KEEP * plain`` (the scalings stay positive)."""
    x = omega * plain + (1.0 - omega) * old
    return x if x >= KEEP * plain else plain


@njit(cache=True, inline="always")
def next_omega(it, err, omega, relax, best, history):
    """The relaxation after sweep ``it`` with marginal error ``err`` (pushed
    into ``history``, the last ``RATE_WINDOW + 1`` errors). Returns
    ``(omega, relax, best)``: ``relax`` False once the safeguard has fallen back
    to ``omega = 1``, ``best`` the smallest error so far."""
    for k in range(RATE_WINDOW):
        history[k] = history[k + 1]
    history[RATE_WINDOW] = err
    if relax:
        if omega > 1.0 and err > 2.0 * best:
            omega, relax = 1.0, False
        elif it + 1 == RELAX_START and 0.0 < err < history[0] < np.inf:
            rate = min((err / history[0]) ** (1.0 / RATE_WINDOW), MAX_RATE)
            omega = 2.0 / (1.0 + math.sqrt(1.0 - rate))
    return omega, relax, min(best, err)


@njit(cache=True, fastmath=FAST)
def sweeps(K, a, b, u, v, t, max_iter, tol, check_every, tiny):
    """Over-relaxed Sinkhorn sweeps from ``u = 1`` and ``v = b / t`` (``t =
    K^T 1`` on entry). ``a, b`` of unit mass. Returns ``(n_iter, err,
    status)``; on CONVERGED and MAX_ITER ``(u, v)`` is the plan whose
    marginal error ``err`` was measured; FAILED: a row or column sum
    under/overflowed (the caller goes to the log domain)."""
    n, m = K.shape
    w = np.empty(m)
    for i in range(n):
        u[i] = 1.0
    for j in range(m):
        if not (t[j] > tiny and t[j] < HUGE):
            return 0, np.inf, FAILED
        v[j] = b[j] / t[j]
    omega, relax, best = 1.0, True, np.inf
    history = np.full(RATE_WINDOW + 1, np.inf)
    err = np.inf
    for it in range(max_iter):
        for j in range(m):
            t[j] = 0.0
        row_err = 0.0
        for i in range(n):
            s = 0.0
            for j in range(m):
                s += K[i, j] * v[j]
            if not (s > tiny and s < HUGE):
                return it, err, FAILED
            ui = relaxed(omega, a[i] / s, u[i])
            e = ui * s - a[i]
            row_err += e * e
            u[i] = ui
            for j in range(m):
                t[j] += ui * K[i, j]
        col_err = 0.0
        usable = True
        for j in range(m):
            tj = t[j]
            usable &= (tj > tiny) & (tj < HUGE)
            d = tj * v[j] - b[j]
            col_err += d * d
            w[j] = b[j] / tj
        if not usable:
            return it + 1, err, FAILED
        err = math.sqrt(row_err + col_err)
        if it % check_every == 0 and err < tol:
            return it + 1, err, CONVERGED
        if it + 1 == max_iter:
            break
        for j in range(m):
            v[j] = relaxed(omega, w[j], v[j])
        omega, relax, best = next_omega(it, err, omega, relax, best, history)
    return max_iter, err, MAX_ITER


@njit(cache=True, fastmath=FAST)
def sweeps_unbalanced(K, a, b, phi_a, phi_b, col_factor, u, v, t, max_iter, tol, check_every,
                      tiny):  # fmt: skip
    """Over-relaxed generalised sweeps (Chizat et al. 2018) for KL-relaxed
    marginals: the plain updates are ``u_i = (a_i / (K v)_i)^phi_a`` and
    ``v_j = (b_j / (K^T u)_j)^phi_b * col_factor_j`` (``col_factor_j =
    exp(-(1 - phi_b) beta_j / eps)`` for the column shift ``beta`` of the
    kernel), relaxed as in :func:`sweeps`. ``t = K^T 1`` on entry. The error is
    the fixed-point residual, the L2 norm of the change of both marginals that
    the plain updates make, ``s_i (u_plain_i - u_i)`` and ``t_j (v_plain_j -
    v_j)``; on CONVERGED the columns take the plain update. Returns
    ``(n_iter, err, status)``."""
    n, m = K.shape
    w = np.empty(m)
    for i in range(n):
        u[i] = 1.0
    for j in range(m):
        if not (t[j] > tiny and t[j] < HUGE):
            return 0, np.inf, FAILED
        v[j] = (b[j] / t[j]) ** phi_b * col_factor[j]
    omega, relax, best = 1.0, True, np.inf
    history = np.full(RATE_WINDOW + 1, np.inf)
    err = np.inf
    for it in range(max_iter):
        for j in range(m):
            t[j] = 0.0
        row_err = 0.0
        for i in range(n):
            s = 0.0
            for j in range(m):
                s += K[i, j] * v[j]
            if not (s > tiny and s < HUGE):
                return it, err, FAILED
            plain = (a[i] / s) ** phi_a
            e = s * (plain - u[i])
            row_err += e * e
            ui = relaxed(omega, plain, u[i])
            u[i] = ui
            for j in range(m):
                t[j] += ui * K[i, j]
        col_err = 0.0
        usable = True
        for j in range(m):
            tj = t[j]
            usable &= (tj > tiny) & (tj < HUGE)
            w[j] = (b[j] / tj) ** phi_b * col_factor[j]
            d = tj * (w[j] - v[j])
            col_err += d * d
        if not usable:
            return it + 1, err, FAILED
        err = math.sqrt(row_err + col_err)
        if it % check_every == 0 and err < tol:
            v[:] = w
            return it + 1, err, CONVERGED
        for j in range(m):
            v[j] = relaxed(omega, w[j], v[j])
        omega, relax, best = next_omega(it, err, omega, relax, best, history)
    return max_iter, err, MAX_ITER
