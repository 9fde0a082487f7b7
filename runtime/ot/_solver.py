"""Compiled solve loops on top of the scaling passes of :mod:`._scaling`.

:func:`solve_problem` is the single compiled entry of one solve (start
potentials, kernel, iterations, cost; the plan and its potentials stay
factored), so
a small problem pays one Numba dispatch (:mod:`._plain` adds the input checks
to that call); :func:`solve` runs the epsilon-scaling stages.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.extending import register_jitable

from otswarm.ot import _kernel as kernels
from otswarm.ot._scaling import (
    CONVERGED,
    FAILED,
    FAST,
    MAX_ITER,
    STAGE_TOL,
    _start_columns,
    absorb,
    build_kernel,
    col_pass,
    cold_potentials,
    row_pass,
    stage_count,
    take_columns,
)


@njit(cache=True)
def _exponent(rho, eps):
    return 1.0 if rho == np.inf else rho / (rho + eps)


@njit(cache=True)
def solve(
    M,
    a,
    b,
    alpha,
    beta,
    K,
    u,
    v,
    t,
    eps,
    n_stages,
    rho_a,
    rho_b,
    stabilize,
    max_iter,
    tol,
    check_every,
    tiny,
):
    """Run the scaling iterations; ``alpha, beta`` hold the start potentials
    and ``K, u, v, t`` are work arrays of shapes ``(n, m), (n,), (m,), (m,)``.
    Stage ``s`` of ``n_stages`` uses ``eps * 2^(n_stages - 1 - s)``;
    intermediate stages stop at ``max(tol, STAGE_TOL)``. The error (as in
    ``_kernel.sweeps``: the marginal violation of the plan ``(u, v)`` after
    the row update, balanced; the change of both marginals that one plain
    update makes, generalised) is checked on every ``check_every``-th
    iteration of a stage; each stage over-relaxes with its own schedule
    (``_kernel.next_omega``). A converged generalised plan takes the plain
    column update.

    Returns ``(n_iter, err, status)`` with status CONVERGED, MAX_ITER or FAILED.
    """
    it = 0
    err = np.inf
    stage_budget = max(1, max_iter // (2 * n_stages))
    w = np.empty(t.shape[0])
    history = np.empty(kernels.RATE_WINDOW + 1)
    for stage in range(n_stages):
        last = stage == n_stages - 1
        eps_s = eps * 2.0 ** (n_stages - 1 - stage)
        phi_a = _exponent(rho_a, eps_s)
        phi_b = _exponent(rho_b, eps_s)
        if stage == 0:
            build_kernel(M, alpha, beta, eps_s, K, tiny)
            _start_columns(K, b, beta, u, v, t, eps_s, phi_b, tiny)
        else:
            absorb(K, M, u, v, alpha, beta, 2.0 * eps_s, eps_s, tiny)  # u, v belong to 2 eps
        budget = max_iter - it if last else min(stage_budget, max_iter - it - 1)
        threshold = tol if last else max(tol, STAGE_TOL)
        omega, relax, best = 1.0, True, np.inf
        history[:] = np.inf
        for k in range(budget):
            ok, wide_u, row_err = row_pass(
                K, M, a, alpha, beta, u, v, t, eps_s, phi_a, omega, stabilize, tiny
            )
            if not ok:
                return it, err, FAILED
            ok, col_err = col_pass(K, M, b, alpha, beta, u, v, t, w, eps_s, phi_b, stabilize, tiny)
            it += 1
            if not ok:
                return it, err, FAILED
            err_now = math.sqrt(row_err + col_err)
            if k % check_every == 0:
                err = err_now
                if err < threshold:
                    if phi_b != 1.0:
                        v[:] = w
                    break
            if last and k + 1 == budget:
                break  # the plan returned is the one measured
            wide_v = take_columns(v, w, omega)
            if err_now < np.inf:
                omega, relax, best = kernels.next_omega(k, err_now, omega, relax, best, history)
            if stabilize and (wide_u or wide_v):
                absorb(K, M, u, v, alpha, beta, eps_s, eps_s, tiny)
        if last:
            return it, err, CONVERGED if err < threshold else MAX_ITER
    return it, err, MAX_ITER


@njit(cache=True, fastmath=FAST)
def assemble(K, C, a, b, u, v, scale):
    """Cost and marginal error of the plan ``P = scale * u_i K_ij v_j``
    (``scale``: the mass divided out of ``a, b``) without writing it; returns
    ``(<P, C>, |P 1 - scale a|_1 + |P^T 1 - scale b|_1)``."""
    n, m = K.shape
    cost = 0.0
    col = np.zeros(m)
    row_err = 0.0
    for i in range(n):
        r = 0.0
        c = 0.0
        for j in range(m):
            q = K[i, j] * v[j]
            r += q
            c += q * C[i, j]
            col[j] += u[i] * q
        cost += u[i] * c
        row_err += abs(u[i] * r - a[i])
    col_err = 0.0
    for j in range(m):
        col_err += abs(col[j] - b[j])
    return scale * cost, scale * (row_err + col_err)


KERNEL, LOG, AUTO = 0, 1, 2
# largest reduced cost spread / eps for which AUTO stays in the kernel domain, per
# dtype: every kernel entry is then at least exp(-spread / eps), a normal number
# (float64 down to exp(-708), float32 to exp(-87)), and the scalings stay far
# from overflow; there the over-relaxed kernel sweeps need 3-8x fewer sweeps than
# the log domain with epsilon scaling (docs/ot.md). A breakdown is redone in the
# log domain.
KERNEL_SPREAD = {np.dtype(np.float64): 400.0, np.dtype(np.float32): 60.0}


@njit(cache=True)
def reduced_cost(M, row, col):
    """A new array ``S_ij = M_ij - row_i - col_j`` (one pass, no NumPy temporaries)."""
    n, m = M.shape
    S = np.empty_like(M)
    for i in range(n):
        ri = row[i]
        for j in range(m):
            S[i, j] = M[i, j] - ri - col[j]
    return S


@register_jitable
def work_size(m: int) -> int:
    """Entries of the float64 ``work`` that :func:`solve_problem` takes for a
    problem of ``m`` columns: ``t, w, t0`` (float64) and ``shift, sums, vk``
    (the dtype of ``K``), ``m`` each, the rate history of
    :func:`._kernel.sweeps`, then the column factors of an unbalanced
    problem (``m``)."""
    return 7 * m + kernels.RATE_WINDOW + 1


@njit(cache=True, _nrt=False)
def kernel_solve(
    M, row, col, a, b, eps, alpha, beta, rho_a, rho_b, spread, max_iter, tol, check_every, tiny,
    K, u, v, lo, work, copy,
):  # fmt: skip
    """The cold kernel-domain solve of :func:`solve_problem` (its arguments,
    ``spread`` the spread of ``lo, hi``), compiled without NRT: it allocates
    nothing. ``copy`` holds the float32 copy of the float64 kernel and its
    ``vk`` (``(n + 1) m`` entries) when :func:`._kernel.takes_copy`, else
    nothing; ``work`` has :func:`work_size` entries. Returns ``(status,
    cost, l1, n_iter, err)`` of the unit-mass problem; FAILED when a sum
    under/overflowed or a flushed entry could carry mass (the caller redoes
    it in the log domain)."""
    n, m = M.shape
    t, w, t0 = work[:m], work[4 * m : 5 * m], work[5 * m : 6 * m]
    low = copy.shape[0] > 0
    vk_low, K_low = copy[: m if low else 0], copy[m:].reshape((n if low else 0, m))
    alpha[:] = 0.0
    for j in range(m):  # loops: an array assignment needs NRT (for a copy when they overlap)
        beta[j] = lo[j]
    in_K = work[m : 4 * m].view(K.dtype)  # shift, sums, vk: 3m entries in the dtype of K
    shift, sums, vk = in_K[:m], in_K[m : 2 * m], in_K[2 * m : 3 * m]
    history = work[6 * m : 6 * m + kernels.RATE_WINDOW + 1]
    if row.shape[0] == n:  # two calls: the build without offsets is compiled apart
        kernels.build_with_copy(M, row, beta, spread, eps, K, t, tiny, shift, sums, K_low)
        for j in range(m):
            beta[j] -= col[j]
    else:
        kernels.build_with_copy(M, None, beta, spread, eps, K, t, tiny, shift, sums, K_low)
    if rho_a == np.inf and rho_b == np.inf:  # balanced: its own compiled sweeps
        n_iter, err, status, l1, cost = kernels.sweeps(
            K, K_low, M, a, b, 1.0, 1.0, None, u, v, t, max_iter, tol, check_every,
            tiny, w, vk, vk_low, t0, history,
        )  # fmt: skip
    else:
        phi_b = _exponent(rho_b, eps)
        col_factor = work[work_size(m) - m : work_size(m)]
        for j in range(m):
            col_factor[j] = math.exp(-(1.0 - phi_b) * beta[j] / eps)
        n_iter, err, status, l1, cost = kernels.sweeps(
            K, K_low, M, a, b, _exponent(rho_a, eps), phi_b, col_factor, u, v, t,
            max_iter, tol, check_every, tiny, w, vk, vk_low, t0, history,
        )  # fmt: skip
    if status != FAILED and not kernels.flush_harmless(K, spread, eps, u, v, tiny, tol):
        status = FAILED  # the plan may be another problem's: redo in the log domain
    if status != FAILED and cost != cost:  # NaN: the last sweep did not take the cost
        cost = kernels.plan_cost(K, M, u, v)
    return status, cost, l1, n_iter, err


@njit(cache=True)
def solve_problem(
    M, row, col, a, b, eps, mass, alpha, beta, warm, mode, kernel_spread, anneal, rho_a, rho_b,
    max_iter, tol, check_every, tiny, K, u, v, lo, hi, work,
):  # fmt: skip
    """One complete solve on the support (``a, b`` divided by ``mass``).

    ``mode`` is KERNEL (Sinkhorn-Knopp), LOG (stabilised) or AUTO (kernel when
    the reduced cost spread is at most ``kernel_spread * eps`` on a cold
    start). A cold kernel-domain solve runs :mod:`._kernel` (one build pass,
    over-relaxed sweeps, balanced or generalised, started on a float32 copy
    of a float64 kernel where :func:`._kernel.takes_copy` says so, the cost
    taken by the last sweep or :func:`._kernel.plan_cost`); a kernel-domain
    breakdown is redone stabilised from a cold start.
    ``alpha, beta`` hold the warm-start potentials when ``warm``. The plan is
    left factored, ``P = mass * u_i K_ij v_j`` with ``K_ij = exp((alpha_i +
    beta_j - M_ij) / eps)``, in the outputs ``K, u, v, alpha, beta``
    (:func:`.result.potentials` gives its potentials from them). Epsilon
    scaling runs when stabilised, ``anneal`` and cold.

    When ``row, col`` have ``n`` and ``m`` entries, the problem is that of the
    reduced cost ``S_ij = M_ij - row_i - col_j`` (the reference measure of an
    unbalanced problem: ``row = eps log a``, ``col = eps log b``) and the
    returned cost is still ``<P, M>``; with no entries they are 0. The kernel
    domain never writes ``S``: ``lo, hi`` are then the column ranges of ``M_ij
    - row_i`` (:func:`_kernel.reduced_column_range`), ``S``'s own shifted by
    ``col_j`` (so the spread is ``S``'s), and the kernel ``exp((lo_j - (M_ij -
    row_i)) / eps) = exp((beta_j - S_ij) / eps)`` with ``beta = lo - col``,
    the column shift of ``S``, is built from ``M`` (:func:`_kernel.build_with_copy`);
    ``alpha, beta`` are left as the shifts of ``S`` (``alpha = 0``). Only the
    log domain writes ``S``. ``lo, hi`` (:func:`_kernel.column_range` of
    ``M`` when no offsets) are unused when ``mode`` is LOG. ``work`` has at
    least :func:`work_size` entries; the kernel domain (:func:`kernel_solve`)
    allocates nothing else unless it starts on a float32 copy
    (:func:`._kernel.takes_copy`). Returns ``(cost,
    marginal_error, n_iter, err, status, stabilised)``.
    """
    n, m = M.shape
    stabilize = mode != KERNEL
    spread = kernels.spread(lo, hi) if mode != LOG and not warm else np.inf
    if mode != LOG and not warm:
        if mode == KERNEL or spread <= kernel_spread * eps:
            low = kernels.takes_copy(K, spread, eps, tol)
            copy = np.empty((n + 1) * m if low else 0, np.float32)
            status, cost, l1, n_iter, err = kernel_solve(
                M, row, col, a, b, eps, alpha, beta, rho_a, rho_b, spread, max_iter, tol,
                check_every, tiny, K, u, v, lo, work, copy,
            )  # fmt: skip
            if status != FAILED:
                return mass * cost, mass * l1, n_iter, err, status, False
        mode, stabilize = LOG, True
    C, M = M, reduced_cost(M, row, col) if row.shape[0] == n else M
    for attempt in range(2):
        stages = 1
        if not warm or attempt == 1:
            spread = cold_potentials(M, alpha, beta)
            if mode == AUTO and attempt == 0:
                stabilize = spread > kernel_spread * eps
            if stabilize and anneal:
                stages = stage_count(spread, eps)
        n_iter, err, status = solve(
            M, a, b, alpha, beta, K, u, v, work[:m], eps, stages, rho_a, rho_b,
            stabilize, max_iter, tol, check_every, tiny,
        )  # fmt: skip
        if status != FAILED:
            break
        stabilize = True
    cost, marginal_error = assemble(K, C, a, b, u, v, mass)
    return cost, marginal_error, n_iter, err, status, stabilize
