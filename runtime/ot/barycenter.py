"""Fixed-support entropic Wasserstein barycenter: ``barycenter``.

Solves ``min_q sum_k w_k W_reg(q, A_k)`` over histograms ``q`` on the common
support of the ``A_k`` with cost ``M`` (``n x n``), by iterative Bregman
projections (Benamou, Carlier, Cuturi, Nenna, Peyré 2015). With the kernel
``K = exp(-(M - min M) / reg)``, for each ``k``: ``u_k = A_k / (K v_k)``,
``t_k = K^T u_k``; then ``q = prod_k t_k^(w_k)`` and ``v_k = q / t_k``. Stops
when the spread of the K projected marginals ``sum_j std_k (v_kj t_kj)`` is at
most ``tol`` (POT's criterion).

The kernel domain (matrix-vector products, no ``exp`` in the loop) runs when
the cost spread ``max M - min M`` is at most ``KERNEL_SPREAD * reg``, so that
no kernel entry is below ``exp(-KERNEL_SPREAD)`` (float64: 1e-44, far from
the 1e-300 at which a sum counts as under/overflowed; the iteration only
multiplies and adds positive numbers, so it agrees with the log domain to
rounding, within 1e-14 in L1 up to spreads of 250 reg); otherwise, or when a
sum under/overflows anyway, the same iteration runs in the log domain, 2 ``exp``
per kernel entry per histogram and iteration
(``f_k = log A_k - LSE_j(-M_ij/reg + g_kj)``, ``h_k = LSE_i(-M_ij/reg + f_ki)``,
``log q = sum_k w_k h_k``, ``g_k = log q - h_k``).
"""

from __future__ import annotations

import logging
import math
from typing import NamedTuple

import numpy as np
from numba import njit

from otswarm.ot import _checks
from otswarm.ot.errors import OTInputError

log = logging.getLogger(__name__)


class BarycenterResult(NamedTuple):
    """``barycenter(..., full=True)``: the histogram and how it was reached."""

    barycenter: np.ndarray
    n_iter: int
    converged: bool
    error: float
    method: str  # "kernel" or "log", the domain that produced it


KERNEL_SPREAD = 100.0  # largest (max M - min M) / reg for the kernel domain


@njit(cache=True, fastmath={"reassoc", "contract"})
def _ibp_kernel(K, A, weights, max_iter, tol, check_every, bar):
    """Kernel-domain iterative Bregman projections; returns ``(n_iter, err,
    ok)``, ``ok`` False when a sum under/overflowed (nothing usable in ``bar``)."""
    n_hist, n = A.shape
    V = np.ones((n_hist, n))
    T = np.empty((n_hist, n))
    u = np.empty(n)
    logq = np.empty(n)
    err = np.inf
    for it in range(max_iter):
        logq[:] = 0.0
        for k in range(n_hist):
            for i in range(n):
                s = 0.0
                for j in range(n):
                    s += K[i, j] * V[k, j]
                u[i] = A[k, i] / s
            for j in range(n):
                T[k, j] = 0.0
            for i in range(n):
                ui = u[i]
                for j in range(n):
                    T[k, j] += ui * K[i, j]
            for j in range(n):
                tj = T[k, j]
                if not (tj > 1e-300 and tj < 1e300):
                    return it, err, False
                logq[j] += weights[k] * math.log(tj)
        if it % check_every == 1 % check_every:
            err = 0.0
            for j in range(n):
                mean = 0.0
                for k in range(n_hist):
                    mean += V[k, j] * T[k, j]
                mean /= n_hist
                var = 0.0
                for k in range(n_hist):
                    var += (V[k, j] * T[k, j] - mean) ** 2
                err += math.sqrt(var / n_hist)
            if err < tol:
                for j in range(n):
                    bar[j] = math.exp(logq[j])
                return it + 1, err, True
        for j in range(n):
            q = math.exp(logq[j])
            bar[j] = q
            for k in range(n_hist):
                V[k, j] = q / T[k, j]
    return max_iter, err, True


@njit(cache=True)
def _lse_shifted(Mr, shift, axis_rows, out):
    """``out_x = LSE_y(Mr[x, y] + shift_y)`` over rows (``axis_rows``) or columns."""
    n = Mr.shape[0]
    for x in range(n):
        top = -np.inf
        for y in range(n):
            z = (Mr[x, y] if axis_rows else Mr[y, x]) + shift[y]
            top = max(top, z)
        if top == -np.inf:
            out[x] = -np.inf
            continue
        acc = 0.0
        for y in range(n):
            acc += math.exp((Mr[x, y] if axis_rows else Mr[y, x]) + shift[y] - top)
        out[x] = top + math.log(acc)


@njit(cache=True)
def _ibp(Mr, logA, weights, max_iter, tol, check_every, log_bar):
    """Log-domain iterative Bregman projections; returns ``(n_iter, err)``."""
    K, n = logA.shape
    G = np.zeros((K, n))
    H = np.zeros((K, n))
    f = np.empty(n)
    lse = np.empty(n)
    err = np.inf
    for it in range(max_iter):
        log_bar[:] = 0.0
        for k in range(K):
            _lse_shifted(Mr, G[k], True, lse)
            for i in range(n):
                f[i] = logA[k, i] - lse[i] if logA[k, i] > -np.inf else -np.inf
            _lse_shifted(Mr, f, False, H[k])
            for j in range(n):
                log_bar[j] += weights[k] * H[k, j]
        if it % check_every == 1 % check_every:
            err = 0.0
            for j in range(n):
                mean = 0.0
                for k in range(K):
                    mean += math.exp(G[k, j] + H[k, j])
                mean /= K
                var = 0.0
                for k in range(K):
                    var += (math.exp(G[k, j] + H[k, j]) - mean) ** 2
                err += math.sqrt(var / K)
            if err < tol:
                return it + 1, err
        for k in range(K):
            for j in range(n):
                G[k, j] = log_bar[j] - H[k, j]
    return max_iter, err


def barycenter(
    A,
    M,
    reg: float,
    weights=None,
    *,
    max_iter: int = 10000,
    tol: float = 1e-8,
    check_every: int = 10,
    full: bool = False,
):
    """Entropic barycenter of ``K`` histograms on a shared support of ``n`` points.

    Args:
        A: histograms ``(K, n)``, one per **row** (POT's ``barycenter`` takes
            them as columns ``(n, K)``), each normalised to unit mass.
        M: cost ``(n, n)`` between support points.
        reg: entropic regularisation ``> 0`` (units of ``M``).
        weights: ``(K,)`` non-negative barycentric weights (normalised to sum
            1; default uniform).
        max_iter, tol, check_every: iteration limit, stopping threshold on the
            spread of the projected marginals, and how often it is tested.
        full: return a :class:`BarycenterResult` instead of the bare histogram.

    Returns:
        The barycenter ``(n,)`` (dtype of ``M``); a log line warns when it did
        not converge (``full=True`` exposes ``converged``).
    """
    dtype = _checks.work_dtype(M, A)
    M = _checks.cost_matrix(M, dtype)
    n = M.shape[0]
    if M.shape != (n, n):
        raise OTInputError(
            f"M: the barycenter lives on the support of A, M must be square, got {M.shape}"
        )
    A = _checks.histograms(A, None, n, dtype, "A")
    weights = _checks.histogram(weights, A.shape[0], np.dtype(np.float64), "weights")
    reg = _checks.positive(reg, "reg")
    tol = _checks.positive(tol, "tol")
    max_iter = _checks.count(max_iter, "max_iter")
    check_every = _checks.count(check_every, "check_every")
    A64 = A.astype(np.float64)
    A64 /= A64.sum(axis=1, keepdims=True)
    weights = weights / weights.sum()
    M64 = M.astype(np.float64)
    lowest = M64.min()
    ok = False
    if M64.max() - lowest <= KERNEL_SPREAD * reg:
        bar = np.empty(n)
        K = np.exp((lowest - M64) / reg)
        n_iter, err, ok = _ibp_kernel(K, A64, weights, max_iter, tol, check_every, bar)
    if not ok:
        with np.errstate(divide="ignore"):
            logA = np.log(A64)
        log_bar = np.empty(n)
        n_iter, err = _ibp(-M64 / reg, logA, weights, max_iter, tol, check_every, log_bar)
        bar = np.exp(log_bar)
    converged = bool(err < tol)
    if not converged:
        log.warning(
            "barycenter: not converged after %d iterations (error %.3g > %.3g)", n_iter, err, tol
        )
    bar = bar.astype(dtype)
    method = "kernel" if ok else "log"
    return BarycenterResult(bar, int(n_iter), converged, float(err), method) if full else bar
