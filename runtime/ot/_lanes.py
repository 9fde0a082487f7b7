"""Kernel-domain Sinkhorn on many small problems at once, one SIMD lane each.

For a batch of problems of the same shape ``(n, m)`` the kernels are stored
as ``K[i, j, l]`` with the problem index ``l`` innermost, so every loop of the
fused sweep (see ``_scaling``) runs over up to ``LANES`` problems with unit
stride: no horizontal reductions and no short-loop overhead, which dominate a
single 16 x 16 solve. Each lane stops (is frozen) on its own once its marginal
violation is below ``tol``, so a lane performs exactly the iterations of a
single kernel-domain solve. Lanes whose sums under/overflow are reported as
FAILED and solved again, stabilised, by the caller.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from otswarm.ot._scaling import (
    CONVERGED,
    FAILED,
    FAST,
    HUGE,
    MAX_ITER,
    build_kernel,
    cold_potentials,
)
from otswarm.ot._solver import assemble

LANES = 64  # problems per chunk: a 16 x 16 chunk of kernels (128 KiB) stays in L2


@njit(cache=True, fastmath=FAST)
def _sweep(K, a, b, u, v, t, s, err, active, failed, tiny):
    """One fused Sinkhorn iteration on every active lane: ``u = a / K v``,
    ``t = K^T u``, ``err = |t * v_old - b|_2``, ``v = b / t``."""
    n, m, L = K.shape
    for j in range(m):
        for lane in range(L):
            t[j, lane] = 0.0
    for i in range(n):
        for lane in range(L):
            s[lane] = 0.0
        for j in range(m):
            for lane in range(L):
                s[lane] += K[i, j, lane] * v[j, lane]
        for lane in range(L):
            usable = (s[lane] > tiny) & (s[lane] < HUGE)
            failed[lane] |= active[lane] & ~usable
            u[i, lane] = a[i, lane] / s[lane] if active[lane] & usable else u[i, lane]
        for j in range(m):
            for lane in range(L):
                t[j, lane] += u[i, lane] * K[i, j, lane]
    for lane in range(L):
        err[lane] = 0.0
    for j in range(m):
        for lane in range(L):
            tj = t[j, lane]
            usable = (tj > tiny) & (tj < HUGE)
            failed[lane] |= active[lane] & ~usable
            d = tj * v[j, lane] - b[j, lane]
            err[lane] += d * d
            v[j, lane] = b[j, lane] / tj if active[lane] & usable else v[j, lane]


@njit(cache=True)
def _load(lane, p, Ms, A, B, eps, kernel_spread, tiny, K, a, b, u, v, alphas, betas, one):
    """Put problem ``p`` into ``lane``: start potentials, kernel, ``u = 1`` and
    the first column update ``v = b / K^T 1``. Returns False when the problem
    needs the log domain (reduced cost spread above ``kernel_spread * eps``)."""
    n, m = a.shape[0], b.shape[0]
    M = Ms[0] if Ms.shape[0] == 1 else Ms[p]
    spread = cold_potentials(M, alphas[lane], betas[lane])
    build_kernel(M, alphas[lane], betas[lane], eps, one, tiny)
    for i in range(n):
        a[i, lane] = A[p, i]
        u[i, lane] = 1.0
    for j in range(m):
        b[j, lane] = B[p, j]
        total = 0.0
        for i in range(n):
            K[i, j, lane] = one[i, j]
            total += one[i, j]
        v[j, lane] = B[p, j] / total if total > tiny else 1.0
    return spread <= kernel_spread * eps


@njit(cache=True)
def _refill(lane, queued, running, problems, Ms, A, B, eps, kernel_spread, tiny, K, a, b, u, v,
            alphas, betas, one, active, owner, sweeps, status, n_iter):  # fmt: skip
    """Load the next queued kernel-domain problem into the idle ``lane``
    (problems that need the log domain are marked FAILED and skipped).
    Returns the updated ``(queued, running)`` counts."""
    while queued < problems.shape[0] and not active[lane]:
        p = problems[queued]
        queued += 1
        status[p], n_iter[p] = FAILED, 0
        if _load(lane, p, Ms, A, B, eps, kernel_spread, tiny, K, a, b, u, v, alphas, betas, one):
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
    u, v, t = np.ones((n, L)), np.ones((m, L)), np.empty((m, L))
    alphas, betas = np.empty((L, n)), np.empty((L, m))
    one = np.empty((n, m), dtype=Ms.dtype)
    s, err = np.empty(L), np.empty(L)
    active, failed = np.zeros(L, dtype=np.bool_), np.zeros(L, dtype=np.bool_)
    owner = np.full(L, -1)
    sweeps = np.zeros(L, dtype=np.int64)
    queued = 0
    running = 0
    for lane in range(L):  # fill every lane
        while queued < problems.shape[0] and not active[lane]:
            p = problems[queued]
            queued += 1
            status[p], n_iter[p] = FAILED, 0
            if _load(
                lane, p, Ms, A, B, eps, kernel_spread, tiny, K, a, b, u, v, alphas, betas, one
            ):
                active[lane], owner[lane], sweeps[lane] = True, p, 0
                running += 1
    while running > 0:
        _sweep(K, a, b, u, v, t, s, err, active, failed, tiny)
        for lane in range(L):
            if not active[lane]:
                continue
            k = sweeps[lane]
            sweeps[lane] = k + 1
            ok = k % check_every == 0 and math.sqrt(err[lane]) < tol
            if not (failed[lane] or ok or k + 1 >= max_iter):
                continue
            p = owner[lane]
            n_iter[p] = k + 1
            status[p] = FAILED if failed[lane] else CONVERGED if ok else MAX_ITER
            if not failed[lane]:
                one[:, :] = K[:, :, lane]
                costs[p], errors[p] = assemble(
                    one, Ms[0] if Ms.shape[0] == 1 else Ms[p], A[p], B[p],
                    u[:, lane].copy(), v[:, lane].copy(), alphas[lane], betas[lane], eps,
                    masses[p], plans[p], F[p], G[p],
                )  # fmt: skip
            active[lane], failed[lane] = False, False
            queued, running = _refill(lane, queued, running - 1, problems, Ms, A, B, eps,
                                      kernel_spread, tiny, K, a, b, u, v, alphas, betas, one,
                                      active, owner, sweeps, status, n_iter)  # fmt: skip
