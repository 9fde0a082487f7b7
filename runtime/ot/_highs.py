"""The transport LP by SciPy's HiGHS: the fallback of ``emd`` when the network
simplex hits its pivot limit. SciPy is imported here, on the first fallback,
never with the package (``scipy.optimize`` alone holds ~38 MB)."""

from __future__ import annotations

import logging

import numpy as np

from otswarm.ot.errors import OTInputError

log = logging.getLogger(__name__)


def solve_lp(a: np.ndarray, b: np.ndarray, M: np.ndarray):
    """``(plan, f, g, optimal)`` of ``min <P, M>``, ``P 1 = a``, ``P^T 1 = b``,
    ``P >= 0`` (float64, equal masses). The last column constraint is implied
    by the others and dropped, so ``g[-1] = 0``; ``f, g`` are the LP duals."""
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
    return np.maximum(res.x.reshape(n, m), 0.0), f, g, res.status == 0
