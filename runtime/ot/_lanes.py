"""Kernel-domain Sinkhorn on many small problems at once, one SIMD lane each.

For a batch of problems of the same shape ``(n, m)`` the kernels are stored
as ``K[i, j, l]`` with the problem index ``l`` innermost, so every loop of the
over-relaxed sweep (see ``_kernel``, each lane with its own relaxation) runs
over up to ``LANES`` problems with unit stride: no horizontal reductions and
no short-loop overhead, which dominate a single 16 x 16 solve. The sweep, the
column relaxation and the row update (a division per entry of ``a / K v``)
are all vector loops: the divisions compile with NumPy's error model (a zero
divisor gives ``inf``, which the under/overflow test catches) because
Python's raises, and a loop that may raise does not vectorise.

Each lane stops (is frozen) on its own once its marginal violation is below
``tol``, so a lane performs exactly the iterations of a single kernel-domain
solve, and takes the next problem. A finished problem leaves only what its
plan is made of: the scalings ``u, v``, the column shift ``beta`` and the
cost spread of its kernel ``K_ij = exp((beta_j - M_ij) / eps)``
(:func:`_kernel.build`, which rebuilds the very same ``K`` when the plan is
read, :mod:`._batch_plan`), its cost ``<P, M>`` (from the lane's kernel as
built, kept whole for this: a strided pass over the lane costs more) and its
marginal error (measured by the last sweep). Lanes
whose sums under/overflow, or whose flushed kernel entries could carry mass
(``_kernel.flush_harmless``), are reported as FAILED and solved again,
stabilised, by the caller.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from otswarm.ot._kernel import (
    BLOCK,
    RATE_WINDOW,
    build,
    column_range,
    flush_harmless,
    next_omega,
    plan_cost,
    relaxed,
    spread,
)
from otswarm.ot._scaling import CONVERGED, FAILED, FAST, HUGE, MAX_ITER

LANES = 64  # problems per chunk: a 16 x 16 chunk of kernels (128 KiB) stays in L2
GROUP = 8  # kernels built, then copied into the lanes together (their rows stay in L1)


@njit(cache=True, fastmath=FAST, error_model="numpy", inline="always")
def _update_row(ai, ui, si, omega, live, failed, err, l1, tiny):
    """``u_i = relaxed(a_i / s_i)`` on the live lanes of one row (its row sums
    ``si``); adds the row's marginal violation to ``err`` (squared) and
    ``l1``, marks a live lane whose sum under/overflowed in ``failed``."""
    for lane in range(ui.shape[0]):
        sl = si[lane]
        usable = (sl > tiny) & (sl < HUGE)
        failed[lane] |= live[lane] & ~usable
        new = relaxed(omega[lane], ai[lane] / sl, ui[lane])
        e = new * sl - ai[lane]
        err[lane] += e * e
        l1[lane] += abs(e)
        ui[lane] = new if live[lane] & usable else ui[lane]


@njit(cache=True, fastmath=FAST, error_model="numpy", _nrt=False)
def _sweep(K, a, b, u, v, w, t, s, zero, err, l1, omega, live, failed, tiny):
    """One over-relaxed sweep (``_kernel.sweeps``) on every lane:
    ``u = relaxed(a / K v)`` on the ``live`` lanes, ``t = K^T u``, ``err`` and
    ``l1`` the squared L2 and the L1 norm of the marginal violation of the
    plan ``(u, v)`` (rows after the update, columns before), ``w = b / t``
    (the plain column update, applied by :func:`_relax_columns` to the lanes
    that go on). A live lane with a sum that under/overflowed is marked in
    ``failed``.

    Rows go in blocks of ``BLOCK`` as in ``_kernel.row_sweep``: the block's
    four row sums (``s``, ``(4, L)``) share each load of ``v``, and its term
    of ``t`` is one update of ``t`` per column; the last block repeats its
    first row, with weight ``zero`` in ``t``. Each loop runs over the lanes,
    unit stride, and keeps its partial sums in memory, so what bounds it is
    the loads and stores per multiply-add, which the blocks cut by a third."""
    n, m, L = K.shape
    for j in range(m):
        for lane in range(L):
            t[j, lane] = 0.0
    for lane in range(L):
        err[lane] = 0.0
        l1[lane] = 0.0
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    for i in range(0, n, BLOCK):
        i1, i2, i3 = min(i + 1, n - 1), min(i + 2, n - 1), min(i + 3, n - 1)
        K0, K1, K2, K3 = K[i], K[i1], K[i2], K[i3]
        for lane in range(L):
            s0[lane] = 0.0
            s1[lane] = 0.0
            s2[lane] = 0.0
            s3[lane] = 0.0
        for j in range(m):
            vj, K0j, K1j, K2j, K3j = v[j], K0[j], K1[j], K2[j], K3[j]
            for lane in range(L):
                x = vj[lane]
                s0[lane] += K0j[lane] * x
                s1[lane] += K1j[lane] * x
                s2[lane] += K2j[lane] * x
                s3[lane] += K3j[lane] * x
        _update_row(a[i], u[i], s0, omega, live, failed, err, l1, tiny)
        if i1 > i:
            _update_row(a[i1], u[i1], s1, omega, live, failed, err, l1, tiny)
        if i2 > i1:
            _update_row(a[i2], u[i2], s2, omega, live, failed, err, l1, tiny)
        if i3 > i2:
            _update_row(a[i3], u[i3], s3, omega, live, failed, err, l1, tiny)
        w0 = u[i]
        w1 = u[i1] if i1 > i else zero
        w2 = u[i2] if i2 > i1 else zero
        w3 = u[i3] if i3 > i2 else zero
        for j in range(m):
            tj, K0j, K1j, K2j, K3j = t[j], K0[j], K1[j], K2[j], K3[j]
            for lane in range(L):
                tj[lane] += (w0[lane] * K0j[lane] + w1[lane] * K1j[lane]) + (
                    w2[lane] * K2j[lane] + w3[lane] * K3j[lane]
                )
    for j in range(m):
        tj, vj, bj, wj = t[j], v[j], b[j], w[j]
        for lane in range(L):
            usable = (tj[lane] > tiny) & (tj[lane] < HUGE)
            failed[lane] |= live[lane] & ~usable
            d = tj[lane] * vj[lane] - bj[lane]
            err[lane] += d * d
            l1[lane] += abs(d)
            wj[lane] = bj[lane] / tj[lane] if usable else vj[lane]


@njit(cache=True, fastmath=FAST, _nrt=False)
def _relax_columns(v, w, omega, go):
    """``v = relaxed(w)`` on the lanes in ``go``."""
    m, L = v.shape
    for j in range(m):
        vj, wj = v[j], w[j]
        for lane in range(L):
            vj[lane] = relaxed(omega[lane], wj[lane], vj[lane]) if go[lane] else vj[lane]


@njit(cache=True, _nrt=False)
def _load(lane, p, Ms, B, eps, kernel_spread, tiny, beta, spreads, one, start, col, shift,
          sums):  # fmt: skip
    """Make problem ``p`` ready for ``lane``: the kernel of ``_kernel.build``
    into ``one[lane]`` (its column shift into ``beta[p]``, its spread into
    ``spreads[p]``) and the first column update ``v = b / K^T 1`` into
    ``start[lane]``, which :func:`_to_lanes` copies into the lanes. Returns
    False when the problem needs the log domain (reduced cost spread above
    ``kernel_spread * eps``, or an empty column sum)."""
    m = B.shape[1]
    M = Ms[0] if Ms.shape[0] == 1 else Ms[p]
    column_range(M, beta[p], col)
    reduced = spread(beta[p], col)
    if reduced > kernel_spread * eps:
        return False
    build(M, beta[p], reduced, eps, one[lane], col, tiny, shift, sums)
    for j in range(m):
        if not (col[j] > tiny and col[j] < HUGE):
            return False
    spreads[p] = reduced
    for j in range(m):
        start[lane, j] = B[p, j] / col[j]
    return True


@njit(cache=True, _nrt=False)
def _to_lanes(lanes, owner, A, B, one, start, K, a, b, u, v):
    """Put the problems ``owner[k]`` made ready by :func:`_load` into the
    listed ``lanes``: ``K[i, j, k] = one[k, i, j]``, ``a, b`` their weights,
    ``u = 1``, ``v = start[k]``. Row by row for all the lanes at once: a row
    of the lane layout (``K[i, j]``, ``a[i]``, ...) is one line per 8 lanes,
    so the stores of the listed lanes come together instead of one line
    (512 bytes apart at 64 float64 lanes, in 8 of L1's 64 sets) per entry of
    each problem."""
    n, m = K.shape[0], K.shape[1]
    for i in range(n):
        Ki, ai, ui = K[i], a[i], u[i]
        for x in range(lanes.shape[0]):
            k = lanes[x]
            ai[k] = A[owner[k], i]
            ui[k] = 1.0
        for j in range(m):
            Kij = Ki[j]
            for x in range(lanes.shape[0]):
                k = lanes[x]
                Kij[k] = one[k, i, j]
    for j in range(m):
        bj, vj = b[j], v[j]
        for x in range(lanes.shape[0]):
            k = lanes[x]
            bj[k] = B[owner[k], j]
            vj[k] = start[k, j]


@njit(cache=True, _nrt=False)
def _from_lanes(lanes, owner, u, v, U, V):
    """``U[owner[k]] = u[:, k]`` and ``V[owner[k]] = v[:, k]`` for the listed
    ``lanes``, a row of the lane layout at a time (as :func:`_to_lanes`)."""
    for i in range(u.shape[0]):
        ui = u[i]
        for x in range(lanes.shape[0]):
            U[owner[lanes[x]], i] = ui[lanes[x]]
    for j in range(v.shape[0]):
        vj = v[j]
        for x in range(lanes.shape[0]):
            V[owner[lanes[x]], j] = vj[lanes[x]]


@njit(cache=True)
def _refill(queued, problems, Ms, A, B, eps, kernel_spread, tiny, K, a, b, u, v, beta, spreads,
            one, start, col, shift, sums, live, owner, sweeps, omega, relax, best, history,
            status, n_iter, fresh):  # fmt: skip
    """Load the next queued problems that stay in the kernel domain into the
    idle lanes, in lane order, each with a fresh relaxation state (the others
    are left FAILED with no sweep), their kernels copied into ``K`` by
    :func:`_to_lanes` once all are built; returns the new count of problems
    taken from the queue. ``fresh`` is a work array of ``L`` lane indices."""
    loaded = 0
    for k in range(live.shape[0]):
        while queued < problems.shape[0] and not live[k]:
            p = problems[queued]
            queued += 1
            status[p], n_iter[p] = FAILED, 0
            if _load(k, p, Ms, B, eps, kernel_spread, tiny, beta, spreads, one, start, col,
                     shift, sums):  # fmt: skip
                live[k], owner[k], sweeps[k] = True, p, 0
                omega[k], relax[k], best[k] = 1.0, True, np.inf
                history[k, :] = np.inf
                fresh[loaded] = k
                loaded += 1
                if loaded == GROUP:
                    _to_lanes(fresh[:loaded], owner, A, B, one, start, K, a, b, u, v)
                    loaded = 0
    if loaded:
        _to_lanes(fresh[:loaded], owner, A, B, one, start, K, a, b, u, v)
    return queued


@njit(cache=True)
def solve_lanes(Ms, A, B, masses, problems, eps, kernel_spread, max_iter, tol, check_every,
                tiny, U, V, beta, spreads, costs, errors, n_iter, status):  # fmt: skip
    """Kernel-domain solves of the listed ``problems`` (``A, B`` divided by
    ``masses``; ``Ms`` holds one shared or one cost per problem). Per problem
    ``p``: ``status[p]`` CONVERGED, MAX_ITER or FAILED; unless FAILED, the plan
    ``masses[p] * diag(U[p]) K diag(V[p])`` with ``K`` the kernel of
    ``_kernel.build`` for the column shift ``beta[p]`` and the spread
    ``spreads[p]``, its cost, marginal error (L1) and sweeps. A problem whose
    reduced cost spread exceeds ``kernel_spread * eps`` is left FAILED at once
    (it needs the log domain). A lane whose problem is finished takes the next
    one, so no lane idles until the queue is empty."""
    n, m = A.shape[1], B.shape[1]
    L = min(LANES, problems.shape[0])
    K = np.zeros((n, m, L), dtype=Ms.dtype)
    a, b = np.ones((n, L)), np.ones((m, L))
    u, v, w, t = np.ones((n, L)), np.ones((m, L)), np.ones((m, L)), np.empty((m, L))
    one, start, col = np.empty((L, n, m), dtype=Ms.dtype), np.empty((L, m)), np.empty(m)
    shift, sums = np.empty(m, dtype=Ms.dtype), np.empty(m, dtype=Ms.dtype)
    s, zero = np.empty((BLOCK, L)), np.zeros(L)
    err, l1, errs = np.empty(L), np.empty(L), np.empty(L)
    omega, best = np.ones(L), np.full(L, np.inf)
    history = np.full((L, RATE_WINDOW + 1), np.inf)
    relax, live = np.ones(L, np.bool_), np.zeros(L, np.bool_)
    failed, met, go = np.zeros(L, np.bool_), np.zeros(L, np.bool_), np.zeros(L, np.bool_)
    owner, fresh, ended = np.full(L, -1), np.empty(L, dtype=np.int64), np.empty(L, dtype=np.int64)
    sweeps = np.zeros(L, dtype=np.int64)
    queued = _refill(0, problems, Ms, A, B, eps, kernel_spread, tiny, K, a, b, u, v, beta,
                     spreads, one, start, col, shift, sums, live, owner, sweeps, omega, relax,
                     best, history, status, n_iter, fresh)  # fmt: skip
    while live.any():
        _sweep(K, a, b, u, v, w, t, s, zero, err, l1, omega, live, failed, tiny)
        for k in range(L):  # which lanes go on
            it = sweeps[k]
            sweeps[k] = it + 1
            errs[k] = math.sqrt(err[k])
            met[k] = it % check_every == 0 and errs[k] < tol
            go[k] = live[k] and not (failed[k] or met[k] or it + 1 >= max_iter)
        _relax_columns(v, w, omega, go)
        done = 0
        for k in range(L):
            if go[k]:
                omega[k], relax[k], best[k] = next_omega(
                    sweeps[k] - 1, errs[k], omega[k], relax[k], best[k], history[k]
                )  # fmt: skip
            elif live[k]:  # the problem of lane k is finished
                p = owner[k]
                n_iter[p] = sweeps[k]
                status[p] = FAILED if failed[k] else CONVERGED if met[k] else MAX_ITER
                ended[done] = k
                done += 1
        _from_lanes(ended[:done], owner, u, v, U, V)
        for x in range(done):
            k = ended[x]
            p = owner[k]
            if not failed[k] and not flush_harmless(one[k], spreads[p], eps, U[p], V[p], tiny,
                                                    tol):  # fmt: skip
                status[p] = FAILED  # redone stabilised by the caller
            if status[p] != FAILED:
                M = Ms[0] if Ms.shape[0] == 1 else Ms[p]
                costs[p] = masses[p] * plan_cost(one[k], M, U[p], V[p])
                errors[p] = masses[p] * l1[k]
            live[k], failed[k] = False, False
        if done:  # lanes fell idle: give them the next problems
            queued = _refill(queued, problems, Ms, A, B, eps, kernel_spread, tiny, K, a, b, u,
                             v, beta, spreads, one, start, col, shift, sums, live, owner, sweeps,
                             omega, relax, best, history, status, n_iter, fresh)  # fmt: skip
