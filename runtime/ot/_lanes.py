"""Kernel-domain Sinkhorn on many small problems at once, one SIMD lane each.

For a batch of problems of the same shape ``(n, m)`` the kernels are stored
as ``K[i, j, l]`` with the problem index ``l`` innermost, so every loop of the
over-relaxed sweep (see ``_kernel``, each lane with its own relaxation) runs
over up to ``LANES`` problems with unit stride: no horizontal reductions and
no short-loop overhead, which dominate a single 16 x 16 solve. Each lane stops
(is frozen) on its own once its marginal violation is below ``tol``, so a lane
performs exactly the iterations of a single kernel-domain solve. Lanes whose
sums under/overflow are reported as FAILED and solved again, stabilised, by
the caller.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from otswarm.ot._kernel import RATE_WINDOW, build, column_range, next_omega, relaxed, spread
from otswarm.ot._scaling import CONVERGED, FAILED, FAST, HUGE, MAX_ITER
from otswarm.ot._solver import assemble
from otswarm.ot.result import plan_product, potentials

LANES = 64  # problems per chunk: a 16 x 16 chunk of kernels (128 KiB) stays in L2


@njit(cache=True, fastmath=FAST)
def _sweep(K, a, b, u, v, w, t, s, err, omega, active, failed, tiny):
    """One over-relaxed sweep (``_kernel.sweeps``) on every active lane:
    ``u = relaxed(a / K v)``, ``t = K^T u``, ``err^2`` = the squared marginal
    violation of the plan ``(u, v)``, ``w = b / t`` (the plain column update,
    applied by :func:`_relax_columns` to the lanes that go on)."""
    n, m, L = K.shape
    for j in range(m):
        for lane in range(L):
            t[j, lane] = 0.0
    for lane in range(L):
        err[lane] = 0.0
    for i in range(n):
        for lane in range(L):
            s[lane] = 0.0
        for j in range(m):
            for lane in range(L):
                s[lane] += K[i, j, lane] * v[j, lane]
        for lane in range(L):
            sl = s[lane]
            usable = (sl > tiny) & (sl < HUGE)
            failed[lane] |= active[lane] & ~usable
            ui = relaxed(omega[lane], a[i, lane] / sl, u[i, lane])
            e = ui * sl - a[i, lane]
            err[lane] += e * e
            u[i, lane] = ui if active[lane] & usable else u[i, lane]
        for j in range(m):
            for lane in range(L):
                t[j, lane] += u[i, lane] * K[i, j, lane]
    for j in range(m):
        for lane in range(L):
            tj = t[j, lane]
            usable = (tj > tiny) & (tj < HUGE)
            failed[lane] |= active[lane] & ~usable
            d = tj * v[j, lane] - b[j, lane]
            err[lane] += d * d
            w[j, lane] = b[j, lane] / tj if usable else v[j, lane]


@njit(cache=True, fastmath=FAST)
def _relax_columns(v, w, omega, lane):
    for j in range(v.shape[0]):
        v[j, lane] = relaxed(omega[lane], w[j, lane], v[j, lane])


@njit(cache=True)
def _load(lane, p, Ms, A, B, eps, kernel_spread, tiny, K, a, b, u, v, alphas, betas, one, col,
          omega, relax, best, history):  # fmt: skip
    """Put problem ``p`` into ``lane``: the kernel of ``_kernel.build``,
    ``u = 1``, ``v = b / K^T 1`` and a fresh relaxation state. Returns False
    when the problem needs the log domain (reduced cost spread above
    ``kernel_spread * eps``, or an empty column sum)."""
    n, m = a.shape[0], b.shape[0]
    M = Ms[0] if Ms.shape[0] == 1 else Ms[p]
    column_range(M, betas[lane], col)
    reduced = spread(betas[lane], col)
    if reduced > kernel_spread * eps:
        return False
    alphas[lane, :] = 0.0
    work = np.empty((2, m), dtype=one.dtype)
    build(M, betas[lane], reduced, eps, one, col, tiny, work[0], work[1])
    for i in range(n):
        a[i, lane] = A[p, i]
        u[i, lane] = 1.0
        for j in range(m):
            K[i, j, lane] = one[i, j]
    for j in range(m):
        b[j, lane] = B[p, j]
        if not (col[j] > tiny and col[j] < HUGE):
            return False
        v[j, lane] = B[p, j] / col[j]
    omega[lane], relax[lane], best[lane] = 1.0, True, np.inf
    history[lane, :] = np.inf
    return True


@njit(cache=True)
def _refill(lane, queued, running, problems, Ms, A, B, eps, kernel_spread, tiny, K, a, b, u, v,
            alphas, betas, one, col, omega, relax, best, history, active, owner, sweeps, status,
            n_iter):  # fmt: skip
    """Load the next queued kernel-domain problem into the idle ``lane``
    (problems that need the log domain are marked FAILED and skipped).
    Returns the updated ``(queued, running)`` counts."""
    while queued < problems.shape[0] and not active[lane]:
        p = problems[queued]
        queued += 1
        status[p], n_iter[p] = FAILED, 0
        if _load(lane, p, Ms, A, B, eps, kernel_spread, tiny, K, a, b, u, v, alphas, betas, one,
                 col, omega, relax, best, history):  # fmt: skip
            active[lane], owner[lane], sweeps[lane] = True, p, 0
            running += 1
    return queued, running


@njit(cache=True)
def solve_lanes(Ms, A, B, masses, problems, eps, kernel_spread, max_iter, tol, check_every,
                tiny, plans, F, G, costs, errors, n_iter, status):  # fmt: skip
    """Kernel-domain solves of the listed ``problems`` (``A, B`` divided by
    ``masses``; ``Ms`` holds one shared or one cost per problem), written into
    the batch outputs; ``status`` is CONVERGED, MAX_ITER or FAILED per problem.
    A problem whose reduced cost spread exceeds ``kernel_spread * eps`` is left
    FAILED at once (it needs the log domain). A lane whose problem is finished
    takes the next one, so no lane idles until the queue is empty."""
    n, m = A.shape[1], B.shape[1]
    L = min(LANES, problems.shape[0])
    K = np.zeros((n, m, L), dtype=Ms.dtype)
    a, b = np.ones((n, L)), np.ones((m, L))
    u, v, w, t = np.ones((n, L)), np.ones((m, L)), np.ones((m, L)), np.empty((m, L))
    alphas, betas = np.empty((L, n)), np.empty((L, m))
    one, col = np.empty((n, m), dtype=Ms.dtype), np.empty(m)
    s, err = np.empty(L), np.empty(L)
    omega, best = np.ones(L), np.full(L, np.inf)
    relax = np.ones(L, dtype=np.bool_)
    history = np.full((L, RATE_WINDOW + 1), np.inf)
    active, failed = np.zeros(L, dtype=np.bool_), np.zeros(L, dtype=np.bool_)
    owner = np.full(L, -1)
    sweeps = np.zeros(L, dtype=np.int64)
    queued = 0
    running = 0
    for lane in range(L):  # fill every lane
        queued, running = _refill(lane, queued, running, problems, Ms, A, B, eps, kernel_spread,
                                  tiny, K, a, b, u, v, alphas, betas, one, col, omega, relax,
                                  best, history, active, owner, sweeps, status, n_iter)  # fmt: skip
    while running > 0:
        _sweep(K, a, b, u, v, w, t, s, err, omega, active, failed, tiny)
        for lane in range(L):
            if not active[lane]:
                continue
            k = sweeps[lane]
            sweeps[lane] = k + 1
            e = math.sqrt(err[lane])
            ok = k % check_every == 0 and e < tol
            if not (failed[lane] or ok or k + 1 >= max_iter):
                _relax_columns(v, w, omega, lane)
                omega[lane], relax[lane], best[lane] = next_omega(
                    k, e, omega[lane], relax[lane], best[lane], history[lane]
                )
                continue
            p = owner[lane]
            n_iter[p] = k + 1
            status[p] = FAILED if failed[lane] else CONVERGED if ok else MAX_ITER
            if not failed[lane]:
                one[:, :] = K[:, :, lane]
                u_p, v_p = u[:, lane].copy(), v[:, lane].copy()
                costs[p], errors[p] = assemble(
                    one, Ms[0] if Ms.shape[0] == 1 else Ms[p], A[p], B[p], u_p, v_p, masses[p]
                )  # fmt: skip
                potentials(u_p, v_p, alphas[lane], betas[lane], eps, masses[p], F[p], G[p])
                plan_product(one, u_p, v_p, masses[p], plans[p])
            active[lane], failed[lane] = False, False
            queued, running = _refill(lane, queued, running - 1, problems, Ms, A, B, eps,
                                      kernel_spread, tiny, K, a, b, u, v, alphas, betas, one,
                                      col, omega, relax, best, history, active, owner, sweeps,
                                      status, n_iter)  # fmt: skip
