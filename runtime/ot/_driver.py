"""Python side of one scaling solve: work arrays, stage count, fallback, result."""

from __future__ import annotations

import logging
import math

import numpy as np

from runtime.ot import _scaling, _support
from runtime.ot.result import OTResult

log = logging.getLogger(__name__)


def tiny(dtype: np.dtype) -> float:
    """Kernel entries below this are flushed to zero (no subnormals)."""
    return float(np.finfo(dtype).tiny)


def scaling_solve(
    a: np.ndarray,
    b: np.ndarray,
    M: np.ndarray,
    eps: float,
    *,
    stabilize: bool,
    init: tuple[np.ndarray, np.ndarray] | None,
    max_iter: int,
    tol: float,
    check_every: int,
    rho: tuple[float, float] = (math.inf, math.inf),
    anneal: bool = True,
    mass: float = 1.0,
    method: str,
) -> OTResult | None:
    """Solve on the support (all weights > 0, masses already divided by
    ``mass``); ``rho`` are the marginal relaxations (inf: balanced side),
    ``anneal`` allows epsilon scaling on a cold start. Returns None when the
    kernel-domain iteration broke down."""
    n, m = M.shape
    alpha = np.empty(n)
    beta = np.empty(m)
    if init is None:
        spread = _scaling.cold_potentials(M, alpha, beta)
        n_stages = _scaling.stage_count(spread, eps) if stabilize and anneal else 1
    else:
        alpha[:] = init[0] - eps * math.log(mass)
        beta[:] = init[1]
        n_stages = 1
    K = np.empty((n, m), dtype=M.dtype)
    u, v, t = np.empty(n), np.empty(m), np.empty(m)
    n_iter, err, status = _scaling.solve(
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
        rho[0],
        rho[1],
        stabilize,
        max_iter,
        tol,
        check_every,
        tiny(M.dtype),
    )
    if status == _scaling.FAILED:
        return None
    plan = np.empty((n, m), dtype=M.dtype)
    f, g = np.empty(n), np.empty(m)
    cost, marginal_error = _scaling.assemble(
        K, M, a * mass, b * mass, u, v, alpha, beta, eps, mass, plan, f, g
    )
    f += eps * math.log(mass)
    converged = status == _scaling.CONVERGED
    if not converged:
        log.info(
            "%s Sinkhorn stopped after %d iterations, error %.3g > tol %.3g",
            method,
            n_iter,
            err,
            tol,
        )
    return OTResult(
        plan, float(cost), f, g, int(n_iter), bool(converged), float(marginal_error), method, eps
    )


def on_full_grid(result: OTResult, support: _support.Support, M: np.ndarray) -> OTResult:
    """The result re-expressed on the full grid (zero-weight points put back)."""
    plan, f, g = _support.expand(support, M, result.plan, result.f, result.g, result.reg)
    dtype = M.dtype
    return result._replace(plan=plan, f=f.astype(dtype), g=g.astype(dtype))
