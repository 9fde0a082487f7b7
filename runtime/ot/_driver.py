"""Python side of one scaling solve: work arrays, fallback, result record."""

from __future__ import annotations

import logging
import math

import numpy as np

from otswarm.ot import _checks, _kernel, _scaling, _solver, _support
from otswarm.ot.result import FactoredPlan, OTResult

log = logging.getLogger(__name__)
INFO = logging.INFO
CONVERGED = _scaling.CONVERGED
NO_SHIFT = np.empty(0)  # row and column offsets of no entries: the cost is M itself


def tiny(dtype: np.dtype) -> float:
    """Kernel entries below this are flushed to zero (no subnormals)."""
    return float(np.finfo(dtype).tiny)


def unit_mass(w: np.ndarray, mass: float) -> np.ndarray:
    """``w / mass`` in float64 (no copy for float64 weights of mass 1)."""
    return w.astype(np.float64, copy=False) if mass == 1.0 else w / np.float64(mass)


def scaling_solve(
    a: np.ndarray,
    b: np.ndarray,
    M: np.ndarray,
    eps: float,
    *,
    mode: int,
    init: tuple[np.ndarray, np.ndarray] | None,
    max_iter: int,
    tol: float,
    check_every: int,
    kernel_spread: float = 0.0,
    rho: tuple[float, float] = (math.inf, math.inf),
    anneal: bool = True,
    mass: float = 1.0,
    name: str | None = None,
    shift: tuple[np.ndarray, np.ndarray] | None = None,
) -> OTResult:
    """Solve on the support (all weights > 0, float64, divided by ``mass``) with
    :func:`_solver.solve_problem`; ``mode`` is KERNEL, LOG or AUTO, ``rho`` the
    marginal relaxations (inf: balanced side), ``anneal`` allows epsilon
    scaling on a cold start. ``name`` overrides the reported method;
    ``shift = (row, col)`` (float64) makes it the problem of the reduced cost
    ``M_ij - row_i - col_j``, never written in the kernel domain
    (:func:`_solver.solve_problem`), with ``result.cost`` still ``<P, M>``.
    The plan is left factored (:class:`FactoredPlan`).

    ``M`` need not have been checked finite unless ``mode`` is LOG: the
    column ranges of the kernel domain read every entry of ``M - row`` and
    a non-finite one raises :class:`OTInputError` as
    :func:`_checks.cost_matrix` does, when ``M`` itself is not finite (else
    ``M_ij - row_i`` overflowed, the spread is not finite and the log domain
    takes the problem)."""
    m = M.shape[1]
    row, col = (NO_SHIFT, NO_SHIFT) if shift is None else shift
    factors = FactoredPlan(M.shape, M.dtype, FactoredPlan.allocate(M), eps)
    K, (u, v, alpha, beta) = factors.kernel(), factors.factors()
    if init is not None:
        alpha[:], beta[:] = init[0] - eps * math.log(mass), init[1]
    lo, hi, work = np.empty(m), np.empty(m), np.empty(_solver.work_size(m))
    offsets = None if shift is None else row  # None: the ranges of M, compiled apart
    if mode != _solver.LOG and not _kernel.reduced_column_range(M, offsets, lo, hi, work):
        _checks.finite_costs(M)
    solved = _solver.solve_problem(
        M, row, col, a, b, eps, mass, alpha, beta, init is not None, mode,
        kernel_spread, anneal, rho[0], rho[1], max_iter, tol, check_every, tiny(M.dtype),
        K, u, v, lo, hi, work,
    )  # fmt: skip
    return result(factors, (mass, *solved), tol, name)


def result(factors: FactoredPlan, solved: tuple, tol: float, name: str | None = None) -> OTResult:
    """The :class:`OTResult` of a scaling solve in ``factors`` (plan and
    potentials factored), from ``solved = (mass, cost, marginal_error,
    n_iter, err, status, stabilised)``, with a log line when it stopped
    before ``tol``; ``name`` overrides the method."""
    mass, cost, marginal_error, n_iter, err, status, stabilized = solved
    method = name or ("log" if stabilized else "kernel")
    converged = status == CONVERGED
    if not converged and log.isEnabledFor(INFO):
        log_unconverged(method, n_iter, err, tol)
    factors.scale = mass
    fields = (factors, cost, factors, factors, n_iter, converged, marginal_error, method,
              factors.eps)  # fmt: skip
    return _new_result(OTResult, fields)


def log_unconverged(method: str, n_iter: int, err: float, tol: float) -> None:
    """The log line of a solve that stopped before ``tol`` (the callers check
    ``log.isEnabledFor(INFO)`` first, a call cheaper than this one)."""
    log.info("%s Sinkhorn stopped after %d iterations, error %.3g > tol %.3g",
             method, n_iter, err, tol)  # fmt: skip


_new_result = tuple.__new__  # what OTResult._make does, without its length check


def on_full_grid(result: OTResult, support: _support.Support, M: np.ndarray) -> OTResult:
    """The result re-expressed on the full grid (zero-weight points put back),
    potentials in the dtype of ``M`` (a factored result already has it)."""
    if support.rows is None and support.cols is None:  # plan and potentials stay factored
        return result
    dtype = M.dtype
    plan, f, g = _support.expand(support, M, result.plan, result.f, result.g, result.reg)
    return result._replace(plan=plan, f=f.astype(dtype, copy=False), g=g.astype(dtype, copy=False))
