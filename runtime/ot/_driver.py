"""Python side of one scaling solve: work arrays, fallback, result record."""

from __future__ import annotations

import logging
import math

import numpy as np

from otswarm.ot import _checks, _kernel, _scaling, _solver, _support
from otswarm.ot.result import FactoredPlan, OTResult

log = logging.getLogger(__name__)


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
    C: np.ndarray | None = None,
) -> OTResult:
    """Solve on the support (all weights > 0, float64, divided by ``mass``) with
    :func:`_solver.solve_problem`; ``mode`` is KERNEL, LOG or AUTO, ``rho`` the
    marginal relaxations (inf: balanced side), ``anneal`` allows epsilon
    scaling on a cold start. ``name`` overrides the reported method; ``C`` is
    the cost of ``result.cost = <P, C>`` (default ``M``). The plan is left
    factored (:class:`FactoredPlan`)."""
    n, m = M.shape
    if init is None:
        alpha, beta = np.empty(n), np.empty(m)
    else:
        alpha, beta = init[0] - eps * math.log(mass), init[1].copy()
    K = np.empty((n, m), dtype=M.dtype)
    u, v, f, g = np.empty(n), np.empty(m), np.empty(n), np.empty(m)
    lo, hi = np.empty(m), np.empty(m)
    if mode != _solver.LOG:
        _kernel.column_range(M, lo, hi)
    cost, marginal_error, n_iter, err, status, stabilized = _solver.solve_problem(
        M, M if C is None else C, a, b, eps, mass, alpha, beta, init is not None, mode,
        kernel_spread, anneal, rho[0], rho[1], max_iter, tol, check_every, tiny(M.dtype),
        K, u, v, f, g, lo, hi,
    )  # fmt: skip
    return result(K, u, v, mass, cost, f, g, n_iter, status, err, tol, marginal_error,
                  name or ("log" if stabilized else "kernel"), eps)  # fmt: skip


def result(K, u, v, mass, cost, f, g, n_iter, status, err, tol, marginal_error, method, eps):
    """The :class:`OTResult` of a scaling solve (plan factored), with a log
    line when it stopped before ``tol``."""
    converged = status == _scaling.CONVERGED
    if not converged:
        log.info("%s Sinkhorn stopped after %d iterations, error %.3g > tol %.3g",
                 method, n_iter, err, tol)  # fmt: skip
    plan = FactoredPlan(K, u, v, mass)
    return OTResult(plan, cost, f, g, n_iter, converged, marginal_error, method, eps)


def on_full_grid(result: OTResult, support: _support.Support, M: np.ndarray) -> OTResult:
    """The result re-expressed on the full grid (zero-weight points put back),
    potentials in the dtype of ``M``."""
    dtype = M.dtype
    if support.rows is None and support.cols is None:  # the plan stays factored
        if dtype == np.float64:
            return result
        return result._replace(f=result.f.astype(dtype), g=result.g.astype(dtype))
    plan, f, g = _support.expand(support, M, result.plan, result.f, result.g, result.reg)
    return result._replace(plan=plan, f=f.astype(dtype, copy=False), g=g.astype(dtype, copy=False))


F64, F32 = np.dtype(np.float64), np.dtype(np.float32)
TINY = {F64: tiny(F64), F32: tiny(F32)}


def checked_solve(a, b, M, eps: float, *, mode: int, kernel_spread: float, max_iter: int,
                  tol: float, check_every: int) -> OTResult | None:  # fmt: skip
    """A cold balanced solve of plain arrays (``a, b, M`` C-contiguous NumPy
    arrays of one dtype, float64 or float32, options already valid) with the
    input checks done in the same compiled call; ``None`` when the input needs
    the checked path (bad values, zero weights, another layout)."""
    dtype = M.dtype
    if (
        type(a) is not np.ndarray
        or type(b) is not np.ndarray
        or (dtype != F64 and dtype != F32)
        or a.dtype != dtype
        or b.dtype != dtype
        or M.ndim != 2
        or a.shape != (M.shape[0],)
        or b.shape != (M.shape[1],)
        or not (M.flags.c_contiguous and a.flags.c_contiguous and b.flags.c_contiguous)
        or M.size == 0
    ):
        return None
    n, m = M.shape
    K = np.empty((n, m), dtype=dtype)
    u, v, f, g = np.empty(n), np.empty(m), np.empty(n), np.empty(m)
    ok, mass, cost, marginal_error, n_iter, err, status, stabilized = _solver.checked_solve(
        a, b, M, eps, mode, kernel_spread, max_iter, tol, check_every, TINY[dtype],
        _checks.MASS_RTOL[dtype], K, u, v, f, g,
    )  # fmt: skip
    if not ok:
        return None
    if dtype == F32:
        f, g = f.astype(F32), g.astype(F32)
    return result(K, u, v, mass, cost, f, g, n_iter, status, err, tol, marginal_error,
                  "log" if stabilized else "kernel", eps)  # fmt: skip
