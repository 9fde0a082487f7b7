"""Exact (unregularised) optimal transport: ``emd``.

Solves the linear program ``min_P <P, M>`` s.t. ``P 1 = a``, ``P^T 1 = b``,
``P >= 0`` by a network simplex compiled with Numba (:mod:`._simplex`). The
dual variables are the potentials ``f, g`` with ``f_i + g_j <= M_ij`` and
equality on the support of ``P``, shifted so that ``<a, f> = <b, g>`` (as
POT's ``center_dual``). When the simplex reaches ``max_iter`` pivots, SciPy's
HiGHS solves the LP instead (:mod:`._highs`; ``method="emd-highs"``, with a
log line). Meant for small problems (``n * m`` up to about ``1e6``) and as
the exact reference.
"""

from __future__ import annotations

import logging

import numpy as np

from otswarm.ot import _checks, _highs, _simplex, _support
from otswarm.ot.result import OTResult

log = logging.getLogger(__name__)

MAX_PIVOTS = 100_000  # POT's default numItermax


def emd(a, b, M, *, max_iter: int = MAX_PIVOTS) -> OTResult:
    """Exact optimal transport between ``a`` and ``b`` for cost ``M``.

    Args:
        a: source weights ``(n,)`` (``None``: uniform); b: target weights
            ``(m,)`` with the same mass.
        M: cost matrix ``(n, m)``.
        max_iter: pivots of the network simplex before HiGHS takes over.

    Returns:
        :class:`OTResult` with the optimal plan, ``cost = <P, M>`` (POT's
        ``emd2``), the duals as ``f, g``, ``n_iter`` = simplex pivots,
        ``reg = 0``, ``method`` ``"emd"`` (or ``"emd-highs"`` after the fallback).
    """
    a, b, M, dtype = _checks.pair_problem(a, b, M)
    _, zeros = _checks.same_mass(a, b)
    max_iter = _checks.count(max_iter, "max_iter", minimum=0)
    support = _support.find(a, b) if zeros else _support.FULL
    a_s, b_s, M_s = _support.restrict(support, a, b, M)
    a64 = np.asarray(a_s, dtype=np.float64)
    b64 = np.multiply(b_s, a64.sum() / b_s.sum(dtype=np.float64), dtype=np.float64)  # as POT
    M64 = np.ascontiguousarray(M_s, dtype=np.float64)
    plan, cost, f, g, pivots, status = _simplex.network_simplex(a64, b64, M64, max_iter)
    method, ok = "emd", status == _simplex.OPTIMAL
    if not ok:
        log.warning(
            "emd: network simplex stopped at %d pivots (max_iter) on a %dx%d problem; "
            "solving the LP with HiGHS instead",
            pivots,
            *M64.shape,
        )
        plan, f, g, ok = _highs.solve_lp(a64, b64, M64)
        _simplex.center(f, g, a64, b64)
        cost, method = float(np.sum(plan * M64)), "emd-highs"
    if zeros:
        M_full = M if M.dtype == np.float64 else M.astype(np.float64)
        plan, f, g = _support.expand(support, M_full, plan, f, g, 0.0)
    return OTResult(
        plan.astype(dtype, copy=False),
        float(cost),
        f.astype(dtype, copy=False),
        g.astype(dtype, copy=False),
        int(pivots),
        ok,
        _simplex.marginal_error(plan, a, b),
        method,
        0.0,
    )
