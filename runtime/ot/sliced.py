"""Sliced Wasserstein distance: ``sliced_wasserstein``.

``SW_p(mu, nu) = (E_theta W_p(theta#mu, theta#nu)^p)^(1/p)`` over directions
``theta`` uniform on the unit sphere, estimated with ``n_projections`` seeded
random directions (Rabin, Peyré, Delon, Bernot 2011; POT's
``sliced_wasserstein_distance``). Each slice is an exact 1-D problem
(:mod:`otswarm.ot.one_d`) on orders from NumPy's (SIMD) sorts, all slices in
one call; with uniform weights the projections are sorted (no orders), and
with as many points on both sides the quantile functions share one grid and
``W_p^p`` is ``mean_i |x_(i) - y_(i)|^p`` of the sorted projections.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from otswarm.ot import _checks
from otswarm.ot.errors import OTInputError
from otswarm.ot.one_d import _order, power, quantile_distance_p


def directions(dim: int, n_projections: int, seed=None) -> np.ndarray:
    """``(n_projections, dim)`` unit vectors, uniform on the sphere, reproducible
    from ``seed`` (``numpy.random.default_rng``)."""
    theta = np.random.default_rng(seed).standard_normal((n_projections, dim))
    return theta / np.sqrt((theta * theta).sum(axis=1, keepdims=True))


@njit(cache=True)
def _mean_slice_cost(Xp, Yp, IX, IY, a, b, p):
    """Mean over rows of ``W_p^p`` between the projected samples (``IX, IY``:
    the row-wise orders, or one row, the identity, for rows already sorted)."""
    total = 0.0
    for k in range(Xp.shape[0]):
        ix = IX[k] if IX.shape[0] > 1 else IX[0]
        iy = IY[k] if IY.shape[0] > 1 else IY[0]
        total += quantile_distance_p(Xp[k], Yp[k], ix, iy, a, b, p)
    return total / Xp.shape[0]


@njit(cache=True, fastmath={"reassoc", "contract"})
def _mean_sorted_gap(Xs, Ys, p):
    """``mean |Xs - Ys|^p``: equal uniform weights on both sides, rows sorted."""
    total = 0.0
    for k in range(Xs.shape[0]):
        for i in range(Xs.shape[1]):
            total += power(abs(Xs[k, i] - Ys[k, i]), p)
    return total / Xs.size


def sliced_wasserstein(
    X, Y, a=None, b=None, n_projections: int = 50, seed=None, p: float = 2
) -> float:
    """Sliced ``W_p`` between two weighted point clouds.

    Args:
        X: source points ``(n, d)``; Y: target points ``(m, d)`` (same units).
        a, b: non-negative weights (default uniform), normalised to sum 1.
        n_projections: number of random directions.
        seed: seed of the directions (same seed, same estimate).
        p: order ``>= 1``.

    Returns:
        The estimate of ``SW_p`` in the units of ``X``.
    """
    X = _checks.cost_matrix(X, np.dtype(np.float64), name="X")
    Y = _checks.cost_matrix(Y, np.dtype(np.float64), name="Y")
    if X.shape[1] != Y.shape[1]:
        raise OTInputError(f"X, Y: dimensions differ ({X.shape[1]} vs {Y.shape[1]})")
    a = _checks.histogram(a, X.shape[0], np.dtype(np.float64), "a")
    b = _checks.histogram(b, Y.shape[0], np.dtype(np.float64), "b")
    n_projections = _checks.count(n_projections, "n_projections")
    p = _order(p)
    theta = directions(X.shape[1], n_projections, seed)
    Xp = theta @ X.T
    Yp = theta @ Y.T
    if a.min() == a.max() and b.min() == b.max():  # uniform weights: sorts, no orders
        Xs, Ys = np.sort(Xp, axis=1), np.sort(Yp, axis=1)
        if X.shape[0] == Y.shape[0]:  # one grid
            cost = _mean_sorted_gap(Xs, Ys, p)
        else:
            identity_x, identity_y = np.arange(X.shape[0])[None], np.arange(Y.shape[0])[None]
            cost = _mean_slice_cost(Xs, Ys, identity_x, identity_y, a / a.sum(), b / b.sum(), p)
    else:
        IX, IY = np.argsort(Xp, axis=1), np.argsort(Yp, axis=1)
        cost = _mean_slice_cost(Xp, Yp, IX, IY, a / a.sum(), b / b.sum(), p)
    return float(max(cost, 0.0) ** (1.0 / p))
