"""Exact (unregularised) optimal transport: ``emd``.

Solves the linear program ``min_P <P, M>`` s.t. ``P 1 = a``, ``P^T 1 = b``,
``P >= 0`` with SciPy's HiGHS solver (``scipy.optimize.linprog``). The dual
variables of the equality constraints are the potentials ``f, g`` with
``f_i + g_j <= M_ij`` and equality on the support of ``P``. Meant for small
problems (``n * m`` up to about ``1e5``) and as the exact reference.
"""

from __future__ import annotations

import logging

import numpy as np

from otswarm.ot import _checks, _support
from otswarm.ot.errors import OTInputError
from otswarm.ot.result import OTResult

log = logging.getLogger(__name__)


def emd(a, b, M) -> OTResult:
    """Exact optimal transport between ``a`` and ``b`` for cost ``M``.

    Args:
        a: source weights ``(n,)`` (``None``: uniform); b: target weights
            ``(m,)`` with the same mass.
        M: cost matrix ``(n, m)``.

    Returns:
        :class:`OTResult` with the optimal plan, ``cost = <P, M>`` (POT's
        ``emd2``), the LP duals as ``f, g``, ``n_iter = 0``, ``reg = 0``.
    """
    a, b, M, dtype = _checks.pair_problem(a, b, M)
    _checks.same_mass(a, b)
    support = _support.find(a, b)
    a_s, b_s, M_s = _support.restrict(support, a, b, M)
    a64, b64 = a_s.astype(np.float64), b_s.astype(np.float64)
    b64 *= a64.sum() / b64.sum()  # exactly equal masses for the LP
    plan, f, g, ok = _solve_lp(a64, b64, M_s.astype(np.float64))
    plan, f, g = _support.expand(support, M.astype(np.float64), plan, f, g, 0.0)
    plan = np.maximum(plan, 0.0)
    cost = float(np.sum(plan * M, dtype=np.float64))
    marginal_error = float(np.abs(plan.sum(1) - a).sum() + np.abs(plan.sum(0) - b).sum())
    return OTResult(
        plan.astype(dtype),
        cost,
        f.astype(dtype),
        g.astype(dtype),
        0,
        ok,
        marginal_error,
        "emd",
        0.0,
    )


def _solve_lp(a: np.ndarray, b: np.ndarray, M: np.ndarray):
    """HiGHS on the transport LP; the last column constraint is implied by the
    others (equal masses) and dropped, so ``g[-1] = 0``. SciPy is imported here,
    not with the package (``scipy.optimize`` alone holds 75 MB)."""
    from scipy import sparse
    from scipy.optimize import linprog

    n, m = M.shape
    rows = sparse.kron(sparse.eye(n), np.ones((1, m)))
    cols = sparse.kron(np.ones((1, n)), sparse.eye(m))
    A_eq = sparse.vstack([rows, cols.tocsr()[: m - 1]]).tocsc()
    b_eq = np.concatenate([a, b[: m - 1]])
    res = linprog(M.ravel(), A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status != 0:
        log.warning("emd: HiGHS stopped with status %d (%s)", res.status, res.message)
        if res.x is None:
            raise OTInputError(f"emd: the LP could not be solved ({res.message})")
    duals = res.eqlin.marginals
    f = duals[:n]
    g = np.append(duals[n:], 0.0)
    return res.x.reshape(n, m), f, g, res.status == 0
