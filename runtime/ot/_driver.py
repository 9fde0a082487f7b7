"""Python side of one scaling solve: work arrays, fallback, result record."""

from __future__ import annotations

import logging
import math

import numpy as np

from otswarm.ot import _scaling, _solver, _support
from otswarm.ot.result import OTResult

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
) -> OTResult:
    """Solve on the support (all weights > 0, float64, divided by ``mass``) with
    :func:`_solver.solve_problem`; ``mode`` is KERNEL, LOG or AUTO, ``rho`` the
    marginal relaxations (inf: balanced side), ``anneal`` allows epsilon
    scaling on a cold start. ``name`` overrides the reported method."""
    n, m = M.shape
    if init is None:
        alpha, beta = np.empty(n), np.empty(m)
    else:
        alpha, beta = init[0] - eps * math.log(mass), init[1].copy()
    plan = np.empty((n, m), dtype=M.dtype)
    f, g = np.empty(n), np.empty(m)
    cost, marginal_error, n_iter, err, status, stabilized = _solver.solve_problem(
        M, a, b, eps, mass, alpha, beta, init is not None, mode, kernel_spread, anneal,
        rho[0], rho[1], max_iter, tol, check_every, tiny(M.dtype), plan, f, g,
    )  # fmt: skip
    method = name or ("log" if stabilized else "kernel")
    converged = status == _scaling.CONVERGED
    if not converged:
        log.info("%s Sinkhorn stopped after %d iterations, error %.3g > tol %.3g",
                 method, n_iter, err, tol)  # fmt: skip
    return OTResult(plan, cost, f, g, n_iter, converged, marginal_error, method, eps)


def on_full_grid(result: OTResult, support: _support.Support, M: np.ndarray) -> OTResult:
    """The result re-expressed on the full grid (zero-weight points put back),
    potentials in the dtype of ``M``."""
    if support.rows is None and support.cols is None and M.dtype == np.float64:
        return result
    plan, f, g = _support.expand(support, M, result.plan, result.f, result.g, result.reg)
    dtype = M.dtype
    return result._replace(plan=plan, f=f.astype(dtype, copy=False), g=g.astype(dtype, copy=False))
