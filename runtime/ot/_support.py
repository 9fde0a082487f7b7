"""Zero weights: solve on the support, give the plan back on the full grid.

Points with zero weight carry no mass, so the solvers drop them (their plan
rows/columns are exactly zero) and never take ``log(0)``. Their potentials are
filled with the (soft, ``eps > 0``, or hard, ``eps = 0``) c-transform of the
other side, the value such a point would get at unit weight; they stay finite.
The hard transform of a zero-weight column runs over every row (zero-weight
rows included), so the exact duals stay feasible on the whole grid.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Support(NamedTuple):
    """Indices of the positive weights (``None``: all of them)."""

    rows: np.ndarray | None
    cols: np.ndarray | None


FULL = Support(None, None)


def find(a: np.ndarray, b: np.ndarray) -> Support:
    return Support(_positive(a), _positive(b))


def _positive(w: np.ndarray) -> np.ndarray | None:
    return None if np.all(w > 0) else np.flatnonzero(w > 0)


def restrict(support: Support, a: np.ndarray, b: np.ndarray, M: np.ndarray):
    """``(a, b, M)`` on the support (no copy when every weight is positive)."""
    rows, cols = support
    if rows is not None:
        a, M = a[rows], M[rows]
    if cols is not None:
        b, M = b[cols], M[:, cols]
    return a, b, np.ascontiguousarray(M)


def restrict_potentials(support: Support, f: np.ndarray, g: np.ndarray):
    """Warm-start potentials ``(f, g)`` on the support."""
    rows, cols = support
    return (f if rows is None else f[rows], g if cols is None else g[cols])


def expand(support: Support, M: np.ndarray, plan, f, g, eps: float):
    """Plan and potentials back on the full ``M.shape`` grid."""
    rows, cols = support
    if rows is None and cols is None:
        return plan, f, g
    n, m = M.shape
    rows = np.arange(n) if rows is None else rows
    cols = np.arange(m) if cols is None else cols
    full = np.zeros((n, m), dtype=plan.dtype)
    full[np.ix_(rows, cols)] = plan
    f_full = _c_transform(M[:, cols], g, eps)
    f_full[rows] = f
    # hard: against every row, so that f_i + g_j <= M_ij holds on the whole grid;
    # soft: the transform weighs rows by their mass, zero-weight rows drop out
    g_full = _c_transform(M.T, f_full, eps) if eps == 0.0 else _c_transform(M[rows].T, f, eps)
    g_full[cols] = g
    return full, f_full.astype(f.dtype), g_full.astype(g.dtype)


def _c_transform(M_rows: np.ndarray, other: np.ndarray, eps: float) -> np.ndarray:
    """``-eps LSE_j((other_j - M_ij) / eps)``, or ``min_j (M_ij - other_j)`` at ``eps = 0``."""
    z = other[None, :].astype(np.float64) - M_rows
    top = z.max(axis=1)
    if eps == 0.0:
        return -top
    return -top - eps * np.log(np.exp((z - top[:, None]) / eps).sum(axis=1))
