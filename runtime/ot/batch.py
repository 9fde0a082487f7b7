"""Many small entropic OT problems in one compiled call: ``sinkhorn_batch``.

Each problem ``p`` is the balanced entropic problem of :func:`sinkhorn` with
weights ``A[p], B[p]`` and cost ``M`` (shared) or ``M[p]``. The loop over
problems runs inside Numba, reusing one set of work arrays, so a tick that
solves a thousand 16x16 problems pays the Python overhead once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from runtime.ot import _checks, _scaling
from runtime.ot.errors import OTInputError
from runtime.ot.result import OTResult
from runtime.ot.sinkhorn import DEFAULT_TOL, KERNEL_SPREAD, METHODS, sinkhorn


@njit(cache=True)
def _solve_all(
    Ms,
    A,
    B,
    masses,
    skip,
    eps,
    stabilize,
    max_iter,
    tol,
    check_every,
    tiny,
    plans,
    F,
    G,
    costs,
    errors,
    n_iter,
    status,
):
    """Solve every problem not marked in ``skip``; a kernel-domain breakdown is
    retried stabilised."""
    nb, n = A.shape
    m = B.shape[1]
    alpha, beta = np.empty(n), np.empty(m)
    u, v, t = np.empty(n), np.empty(m), np.empty(m)
    K = np.empty((n, m), dtype=Ms.dtype)
    for p in range(nb):
        if skip[p]:
            continue
        M = Ms[0] if Ms.shape[0] == 1 else Ms[p]
        a = A[p] / masses[p]
        b = B[p] / masses[p]
        for stab in (stabilize, True):
            spread = _scaling.cold_potentials(M, alpha, beta)
            stages = _scaling.stage_count(spread, eps) if stab else 1
            it, _, st = _scaling.solve(
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
                stages,
                np.inf,
                np.inf,
                stab,
                max_iter,
                tol,
                check_every,
                tiny,
            )
            if st != _scaling.FAILED:
                break
        costs[p], errors[p] = _scaling.assemble(
            K, M, A[p], B[p], u, v, alpha, beta, eps, masses[p], plans[p], F[p], G[p]
        )
        F[p] += eps * np.log(masses[p])
        n_iter[p] = it
        status[p] = st


def sinkhorn_batch(
    A,
    B,
    M,
    reg: float,
    *,
    method: str = "auto",
    max_iter: int = 1000,
    tol: float | None = None,
    check_every: int = 10,
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
        Problems with zero weights are solved one by one by :func:`sinkhorn`.
    """
    dtype = _checks.work_dtype(M, A, B)
    M = np.asarray(M)
    M = _checks.cost_matrix(M, dtype, ndim=M.ndim if M.ndim in (2, 3) else 2)
    Ms = M[None] if M.ndim == 2 else M
    n, m = Ms.shape[1:]
    A = _checks.histograms(A, None, n, dtype, "A")
    B = _checks.histograms(B, A.shape[0], m, dtype, "B")
    if Ms.shape[0] not in (1, A.shape[0]):
        raise OTInputError(f"M: expected (n, m) or ({A.shape[0]}, n, m), got {M.shape}")
    reg = _checks.positive(reg, "reg")
    if method not in METHODS:
        raise OTInputError(f"method: expected one of {METHODS}, got {method!r}")
    tol = DEFAULT_TOL[dtype] if tol is None else _checks.positive(tol, "tol")
    max_iter = _checks.count(max_iter, "max_iter")
    check_every = _checks.count(check_every, "check_every")
    masses = np.array([_checks.same_mass(A[p], B[p], f"A[{p}], B[{p}]") for p in range(len(A))])
    if method == "auto":
        method = "kernel" if float(np.ptp(Ms)) <= KERNEL_SPREAD[dtype] * reg else "log"
    P = A.shape[0]
    plans = np.empty((P, n, m), dtype=dtype)
    F, G = np.empty((P, n)), np.empty((P, m))
    costs, errors = np.empty(P), np.empty(P)
    n_iter, status = np.empty(P, dtype=np.int64), np.empty(P, dtype=np.int64)
    has_zeros = (A == 0).any(axis=1) | (B == 0).any(axis=1)
    _solve_all(
        Ms,
        A.astype(np.float64),
        B.astype(np.float64),
        masses,
        has_zeros,
        reg,
        method == "log",
        max_iter,
        tol,
        check_every,
        float(np.finfo(dtype).tiny),
        plans,
        F,
        G,
        costs,
        errors,
        n_iter,
        status,
    )
    for p in np.flatnonzero(has_zeros):
        one = sinkhorn(
            A[p],
            B[p],
            Ms[0 if len(Ms) == 1 else p],
            reg,
            method=method,
            max_iter=max_iter,
            tol=tol,
            check_every=check_every,
        )
        plans[p], F[p], G[p], costs[p], errors[p], n_iter[p] = (
            one.plan,
            one.f,
            one.g,
            one.cost,
            one.marginal_error,
            one.n_iter,
        )
        status[p] = _scaling.CONVERGED if one.converged else _scaling.MAX_ITER
    converged = status == _scaling.CONVERGED
    return OTResult(
        plans, costs, F.astype(dtype), G.astype(dtype), n_iter, converged, errors, method, reg
    )
