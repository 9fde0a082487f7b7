"""Compiled core of the entropic solvers: stabilised Sinkhorn scaling.

The plan is kept in factored form ``P_ij = u_i K_ij v_j`` with the
*stabilised kernel* ``K_ij = exp((alpha_i + beta_j - M_ij) / eps)`` (Schmitzer,
"Stabilized sparse scaling algorithms for entropy regularized transport
problems", SIAM J. Sci. Comput. 2019). The dual potentials are
``f = alpha + eps log u`` and ``g = beta + eps log v`` (units of ``M``).

One Sinkhorn iteration is one sweep over the rows of ``K``: for row ``i`` the
dot product ``s_i = K_i. v`` gives ``u_i``, and the same row, still in L1
cache, is accumulated into ``t = K^T u`` (an axpy). The matrix is read once per
iteration instead of twice (two BLAS ``gemv``), and ``t`` yields the column
update ``v = b / t`` and the marginal violation ``|v_old * t - b|_2`` for free.

Generalised (unbalanced, Chizat et al. 2018) updates use the exponents
``phi = rho / (rho + eps)``: ``u_i = (a_i / s_i)^phi exp(-(1 - phi) alpha_i / eps)``
(``phi = 1`` is the balanced case). Stabilisation (``stabilize=True``):

* absorption: when some ``u_i`` or ``v_j`` leaves ``[1/tau, tau]`` the scalings
  are moved into the potentials and ``K_ij <- u_i K_ij v_j`` (no ``exp``);
* epsilon scaling: stages at ``eps * 2^k, ..., 2 eps, eps``; going from ``2 eps``
  to ``eps`` squares the absorbed kernel, ``exp(x / eps) = exp(x / 2eps)^2``;
* a row (column) whose sum underflows gets an exact log-sum-exp update of its
  potential and a recomputed kernel row (column).

Kernel entries below the dtype's smallest normal number are flushed to zero so
that no loop ever runs on subnormals.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# reassociation lets LLVM vectorise the reductions; inf/nan semantics stay exact
FAST = {"reassoc", "contract"}
HUGE = 1e300
TAU = 1e6  # absorption threshold on the scalings u, v
FIRST_STAGE_RATIO = 16.0  # largest reduced cost / eps of the first epsilon-scaling stage
STAGE_TOL = 1e-4  # intermediate stages stop at this marginal violation (unit mass)

CONVERGED, MAX_ITER, FAILED = 0, 1, 2


@njit(cache=True)
def cold_potentials(M, alpha, beta):
    """Start potentials by two c-transforms, ``alpha_i = min_j M_ij`` and
    ``beta_j = min_i (M_ij - alpha_i)``, so every ``exp`` argument is ``<= 0``
    and each row and column holds a 1. Returns the largest reduced cost
    ``max_ij (M_ij - alpha_i - beta_j)`` (sets how hard the problem is)."""
    n, m = M.shape
    for i in range(n):
        lo = M[i, 0]
        for j in range(1, m):
            lo = min(lo, M[i, j])
        alpha[i] = lo
    for j in range(m):
        beta[j] = np.inf
    for i in range(n):
        for j in range(m):
            beta[j] = min(beta[j], M[i, j] - alpha[i])
    spread = 0.0
    for i in range(n):
        for j in range(m):
            spread = max(spread, M[i, j] - alpha[i] - beta[j])
    return spread


@njit(cache=True)
def stage_count(spread, eps):
    """Number of epsilon-scaling stages (halving eps each time) so that the first
    stage has ``spread / eps_0 <= FIRST_STAGE_RATIO``."""
    ratio = spread / eps
    if ratio <= FIRST_STAGE_RATIO:
        return 1
    return 1 + min(40, math.ceil(math.log2(ratio / FIRST_STAGE_RATIO)))


@njit(cache=True, fastmath=FAST)
def build_kernel(M, alpha, beta, eps, K, tiny):
    """``K_ij = exp((alpha_i + beta_j - M_ij) / eps)``; first lowers ``alpha_i``
    where needed so that no entry exceeds 1 (a warm start cannot overflow)."""
    n, m = M.shape
    inv = 1.0 / eps
    for i in range(n):
        top = -np.inf
        for j in range(m):
            top = max(top, alpha[i] + beta[j] - M[i, j])
        if top > 0.0:
            alpha[i] -= top
        for j in range(m):
            k = math.exp((alpha[i] + beta[j] - M[i, j]) * inv)
            K[i, j] = k if k >= tiny else 0.0


@njit(cache=True)
def _lse_potential(weight, phi, eps, M_line, dual, scaling):
    """Exact update ``phi (eps log w - eps LSE_k((dual_k + eps log scaling_k - M_k) / eps))``
    of one potential, over the entries with ``scaling_k > 0``."""
    top = -np.inf
    for k in range(M_line.shape[0]):
        if scaling[k] > 0.0:
            top = max(top, (dual[k] - M_line[k]) / eps + math.log(scaling[k]))
    acc = 0.0
    for k in range(M_line.shape[0]):
        if scaling[k] > 0.0:
            acc += math.exp((dual[k] - M_line[k]) / eps + math.log(scaling[k]) - top)
    return phi * eps * (math.log(weight) - top - math.log(acc))


@njit(cache=True, fastmath=FAST)
def _scale(weight, total, phi, dual, eps):
    """Scaling update ``(w / total)^phi exp(-(1 - phi) dual / eps)``."""
    if phi == 1.0:
        return weight / total
    return (weight / total) ** phi * math.exp(-(1.0 - phi) * dual / eps)


@njit(cache=True, fastmath=FAST)
def row_pass(K, M, a, alpha, beta, u, v, t, eps, phi, stabilize, tiny):
    """``u = scale(a, K v)`` and ``t = K^T u`` in one sweep over the rows.
    Returns ``(ok, out_of_range)``; ``ok`` is False on an underflowed or
    overflowed row sum when not stabilising."""
    n, m = K.shape
    for j in range(m):
        t[j] = 0.0
    wide = False
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += K[i, j] * v[j]
        if not (s > tiny and s < HUGE):
            if not stabilize:
                return False, wide
            alpha[i] = _lse_potential(a[i], phi, eps, M[i], beta, v)
            if not math.isfinite(alpha[i]):
                return False, wide
            s = 0.0
            for j in range(m):
                k = math.exp((alpha[i] + beta[j] - M[i, j]) / eps)
                K[i, j] = k if k >= tiny else 0.0
                s += K[i, j] * v[j]
        ui = _scale(a[i], s, phi, alpha[i], eps)
        u[i] = ui
        wide = wide or ui > TAU or ui * TAU < 1.0
        for j in range(m):
            t[j] += ui * K[i, j]
    return True, wide


@njit(cache=True, fastmath=FAST)
def col_pass(K, M, b, alpha, beta, u, v, t, eps, phi, stabilize, tiny):
    """``v = scale(b, t)`` with ``t = K^T u`` from :func:`row_pass`. Returns
    ``(ok, err, out_of_range)`` where ``err = |t * (v_old - v_new)|_2`` is the
    change of the column marginal, i.e. ``|P^T 1 - b|_2`` in the balanced case."""
    m = t.shape[0]
    err = 0.0
    wide = False
    for j in range(m):
        tj = t[j]
        before = tj * v[j]
        if not (tj > tiny and tj < HUGE):
            if not stabilize:
                return False, err, wide
            beta[j] = _lse_potential(b[j], phi, eps, M[:, j], alpha, u)
            if not math.isfinite(beta[j]):
                return False, err, wide
            tj = 0.0
            for i in range(K.shape[0]):
                k = math.exp((alpha[i] + beta[j] - M[i, j]) / eps)
                K[i, j] = k if k >= tiny else 0.0
                tj += u[i] * K[i, j]
            before = 0.0
        vj = _scale(b[j], tj, phi, beta[j], eps)
        d = before - tj * vj
        err += d * d
        v[j] = vj
        wide = wide or vj > TAU or vj * TAU < 1.0
    return True, math.sqrt(err), wide


@njit(cache=True, fastmath=FAST)
def absorb(K, u, v, alpha, beta, eps, square, tiny):
    """Move the scalings into the potentials: ``alpha += eps log u``,
    ``beta += eps log v`` (``eps`` of the stage the scalings belong to),
    ``K_ij <- u_i K_ij v_j`` (squared when the next stage halves ``eps``), then
    ``u = v = 1``."""
    n, m = K.shape
    for i in range(n):
        ui = u[i]
        for j in range(m):
            k = ui * K[i, j] * v[j]
            if square:
                k = k * k
            K[i, j] = k if k >= tiny else 0.0
        alpha[i] += eps * math.log(ui)
        u[i] = 1.0
    for j in range(m):
        beta[j] += eps * math.log(v[j])
        v[j] = 1.0


@njit(cache=True, fastmath=FAST)
def _start_columns(K, b, beta, u, v, t, eps, phi, tiny):
    """First half-iteration from ``u = 1``: ``v = scale(b, K^T 1)``."""
    n, m = K.shape
    for j in range(m):
        t[j] = 0.0
    for i in range(n):
        u[i] = 1.0
        for j in range(m):
            t[j] += K[i, j]
    for j in range(m):
        v[j] = _scale(b[j], t[j], phi, beta[j], eps) if t[j] > tiny else 1.0


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
    intermediate stages stop at ``max(tol, STAGE_TOL)``. The marginal error is
    checked on every ``check_every``-th iteration of a stage.

    Returns ``(n_iter, err, status)`` with status CONVERGED, MAX_ITER or FAILED.
    """
    it = 0
    err = np.inf
    stage_budget = max(1, max_iter // (2 * n_stages))
    for stage in range(n_stages):
        last = stage == n_stages - 1
        eps_s = eps * 2.0 ** (n_stages - 1 - stage)
        phi_a = _exponent(rho_a, eps_s)
        phi_b = _exponent(rho_b, eps_s)
        if stage == 0:
            build_kernel(M, alpha, beta, eps_s, K, tiny)
            _start_columns(K, b, beta, u, v, t, eps_s, phi_b, tiny)
        else:
            absorb(K, u, v, alpha, beta, 2.0 * eps_s, True, tiny)  # u, v belong to 2 eps
        budget = max_iter - it if last else min(stage_budget, max_iter - it - 1)
        threshold = tol if last else max(tol, STAGE_TOL)
        for k in range(budget):
            ok, wide_u = row_pass(K, M, a, alpha, beta, u, v, t, eps_s, phi_a, stabilize, tiny)
            if not ok:
                return it, err, FAILED
            ok, err_now, wide_v = col_pass(
                K, M, b, alpha, beta, u, v, t, eps_s, phi_b, stabilize, tiny
            )
            it += 1
            if not ok:
                return it, err, FAILED
            if k % check_every == 0:
                err = err_now
                if err < threshold:
                    break
            if stabilize and (wide_u or wide_v):
                absorb(K, u, v, alpha, beta, eps_s, False, tiny)
        if last:
            return it, err, CONVERGED if err < threshold else MAX_ITER
    return it, err, MAX_ITER


@njit(cache=True, fastmath=FAST)
def assemble(K, M, a, b, u, v, alpha, beta, eps, scale, plan, f, g):
    """Write ``plan = scale * u_i K_ij v_j`` and the potentials
    ``f = alpha + eps log u``, ``g = beta + eps log v``; return
    ``(<plan, M>, |plan 1 - a|_1 + |plan^T 1 - b|_1)`` with ``a, b`` the
    unscaled weights (``scale`` times the ones the solver saw)."""
    n, m = K.shape
    cost = 0.0
    col = np.zeros(m)
    row_err = 0.0
    for i in range(n):
        ui = u[i] * scale
        r = 0.0
        for j in range(m):
            p = ui * K[i, j] * v[j]
            plan[i, j] = p
            cost += p * M[i, j]
            r += p
            col[j] += p
        row_err += abs(r - a[i])
        f[i] = alpha[i] + eps * math.log(u[i])
    col_err = 0.0
    for j in range(m):
        col_err += abs(col[j] - b[j])
        g[j] = beta[j] + eps * math.log(v[j])
    return cost, row_err + col_err
