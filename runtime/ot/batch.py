"""Many small entropic OT problems in one compiled call: ``sinkhorn_batch``.

Each problem ``p`` is the balanced entropic problem of :func:`sinkhorn` with
weights ``A[p], B[p]`` and cost ``M`` (shared) or ``M[p]``. Kernel-domain
problems are solved side by side, one SIMD lane each (``_lanes``); the others
(small ``reg``, or a kernel-domain breakdown) one after the other by the
stabilised solver, still inside one compiled loop. Either way a tick that
solves a thousand 16x16 problems pays the Python overhead once, and writes no
plan and no potentials unless they are read (:mod:`._batch_plan`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from otswarm.ot import _checks, _scaling
from otswarm.ot._batch_plan import BatchPlan
from otswarm.ot._lanes import solve_lanes
from otswarm.ot._scaling import FAILED
from otswarm.ot._solver import LOG, solve_problem, work_size
from otswarm.ot.errors import OTInputError
from otswarm.ot.result import OTResult, plan_product, potentials
from otswarm.ot.sinkhorn import KERNEL_SPREAD, METHODS, sinkhorn


@njit(cache=True, error_model="numpy")  # the divisions vectorise
def _unit_rows(A, B, masses, A_n, B_n):
    """``A_n = A / masses[:, None]`` and ``B_n`` likewise (float64, each entry
    divided as NumPy divides it) in one pass over each; returns whether each
    problem has a zero weight (``(A == 0).any(1) | (B == 0).any(1)``, which
    NumPy reduces row by row, a call per row of 16)."""
    P, n = A.shape
    m = B.shape[1]
    zeros = np.empty(P, np.bool_)
    for p in range(P):
        mass = masses[p]
        empty = False
        for i in range(n):
            x = A[p, i]
            A_n[p, i] = x / mass
            empty |= x == 0
        for j in range(m):
            y = B[p, j]
            B_n[p, j] = y / mass
            empty |= y == 0
        zeros[p] = empty
    return zeros


@njit(cache=True)
def _solve_stabilized(Ms, A, B, masses, problems, eps, max_iter, tol, check_every, tiny,
                      plans, F, G, costs, errors, n_iter, status):  # fmt: skip
    """Solve the listed ``problems`` (``A, B`` already divided by ``masses``)
    with the stabilised :func:`solve_problem`; the ``k``-th one's plan and
    potentials go to ``plans[k], F[k], G[k]``."""
    n, m = A.shape[1], B.shape[1]
    alpha, beta = np.empty(n), np.empty(m)
    K, u, v = np.empty((n, m), dtype=Ms.dtype), np.empty(n), np.empty(m)
    unused = np.empty(m)  # the column ranges of the kernel domain (LOG mode)
    work = np.empty(work_size(m))
    for k in range(problems.shape[0]):
        p = problems[k]
        M = Ms[0] if Ms.shape[0] == 1 else Ms[p]
        costs[p], errors[p], n_iter[p], _, status[p], _ = solve_problem(
            M, unused[:0], unused[:0], A[p], B[p], eps, masses[p], alpha, beta, False, LOG, 0.0,
            True, np.inf, np.inf, max_iter, tol, check_every, tiny, K, u, v, unused, unused, work,
        )  # fmt: skip
        potentials(u, v, alpha, beta, eps, masses[p], F[k], G[k])
        plan_product(K, u, v, masses[p], plans[k])


def sinkhorn_batch(
    A,
    B,
    M,
    reg: float,
    *,
    method: str = "auto",
    max_iter: int = 1000,
    tol: float | None = None,
    check_every: int = 1,
) -> OTResult:
    """Solve ``len(A)`` independent entropic OT problems.

    Args:
        A: source weights ``(P, n)``, one problem per row.
        B: target weights ``(P, m)``; ``B[p]`` has the mass of ``A[p]``.
        M: cost ``(n, m)`` shared by all problems, or ``(P, n, m)``.
        reg, method, max_iter, tol, check_every: as in :func:`sinkhorn`.

    Returns:
        One :class:`OTResult` whose fields carry a leading axis of length ``P``
        (``plan`` is ``(P, n, m)``, ``cost``/``converged``/... are ``(P,)``).
        ``plan``, ``f`` and ``g`` are computed on first read
        (:class:`._batch_plan.BatchPlan`, from a copy of ``M`` the result
        keeps). ``method`` is ``"kernel"``, ``"log"`` or ``"mixed"`` (``auto``
        chose per problem). Problems with zero weights are solved one by one
        by :func:`sinkhorn`.
    """
    dtype = _checks.work_dtype(M, A, B)
    given = M
    M = np.asarray(M)
    M = _checks.cost_matrix(M, dtype, ndim=M.ndim if M.ndim in (2, 3) else 2, finite=False)
    if M is given or not M.flags.owndata:  # the plans are rebuilt from M when read
        M = _checks.finite_copy(M)
    else:
        _checks.finite_costs(M)
    Ms = M[None] if M.ndim == 2 else M
    n, m = Ms.shape[1:]
    A = _checks.histograms(A, None, n, dtype, "A")
    B = _checks.histograms(B, A.shape[0], m, dtype, "B")
    if Ms.shape[0] not in (1, A.shape[0]):
        raise OTInputError(f"M: expected (n, m) or ({A.shape[0]}, n, m), got {M.shape}")
    reg = _checks.positive(reg, "reg")
    if method not in METHODS:
        raise OTInputError(f"method: expected one of {METHODS}, got {method!r}")
    tol, max_iter, check_every = _checks.iteration_options(tol, max_iter, check_every, dtype)
    masses = _checks.same_masses(A, B)
    P = A.shape[0]
    U, V, beta, spreads = np.empty((P, n)), np.empty((P, m)), np.empty((P, m)), np.empty(P)
    costs, errors = np.empty(P), np.empty(P)
    n_iter, status = np.empty(P, dtype=np.int64), np.full(P, FAILED, dtype=np.int64)
    A_n, B_n = np.empty(A.shape), np.empty(B.shape)
    has_zeros = _unit_rows(A, B, masses, A_n, B_n)
    tiny = float(np.finfo(dtype).tiny)
    if method != "log":  # kernel domain, many problems per SIMD lane set
        spread = KERNEL_SPREAD[dtype] if method == "auto" else np.inf
        solve_lanes(Ms, A_n, B_n, masses, np.flatnonzero(~has_zeros), reg, spread, max_iter,
                    tol, check_every, tiny, U, V, beta, spreads, costs, errors, n_iter,
                    status)  # fmt: skip
    # the log domain for the rest (and for kernel-domain breakdowns)
    stabilized = (status == FAILED) & ~has_zeros
    factored = np.flatnonzero(~stabilized & ~has_zeros)  # plans rebuilt when read
    held = np.concatenate([np.flatnonzero(stabilized), np.flatnonzero(has_zeros)])
    first_zero = int(stabilized.sum())
    plans = np.empty((len(held), n, m), dtype=dtype)
    F, G = np.empty((len(held), n)), np.empty((len(held), m))
    _solve_stabilized(Ms, A_n, B_n, masses, held[:first_zero], reg, max_iter, tol,
                      check_every, tiny, plans, F, G, costs, errors, n_iter, status)  # fmt: skip
    for k in range(first_zero, len(held)):
        p = held[k]
        one = sinkhorn(A[p], B[p], Ms[0 if len(Ms) == 1 else p], reg, method=method,
                       max_iter=max_iter, tol=tol, check_every=check_every)  # fmt: skip
        plans[k], F[k], G[k] = one.plan, one.f, one.g
        costs[p], errors[p], n_iter[p] = one.cost, one.marginal_error, one.n_iter
        status[p] = _scaling.CONVERGED if one.converged else _scaling.MAX_ITER
        stabilized[p] = one.method == "log"
    deferred = BatchPlan(Ms, reg, masses, factored, U, V, beta, spreads, held, plans, F, G)
    converged = status == _scaling.CONVERGED
    used = "log" if stabilized.all() else "kernel" if not stabilized.any() else "mixed"
    return OTResult(deferred, costs, deferred, deferred, n_iter, converged, errors, used, reg)
