"""Distributions on an ordered 1-D support, handled through their quantile functions.

A histogram ``p`` (masses ``p_k >= 0`` summing to 1) lives on an increasing support
``x_0 < ... < x_{n-1}`` (e.g. duty levels in [0, 1]). Its CDF is ``F_k = sum_{i<=k} p_i``
and its quantile function is ``Q(u) = x_{min{k : F_k >= u}}`` for ``u`` in (0, 1].

On the line, optimal transport is monotone rearrangement, so every Wasserstein
operation has a closed form in quantile space:

- barycenter (W2, weights ``w``): ``Q_bar(u) = sum_h w_h Q_h(u)``;
- displacement interpolation (McCann): ``Q_t = (1 - t) Q_p + t Q_q``;
- distance: ``W_1(p, q) = int |Q_p - Q_q| du = sum_k |F_p,k - F_q,k| (x_{k+1} - x_k)``.

The averaged quantile function puts atoms between support points; they are put
back on the support by *linear binning* (an atom at ``y`` in ``[x_k, x_{k+1}]``
gives ``(x_{k+1}-y)/(x_{k+1}-x_k)`` of its mass to ``x_k`` and the rest to
``x_{k+1}``). Linear binning keeps the mean, and it is 1-Lipschitz in W1 (each
atom's kernel is stochastically monotone with mean ``y``), so it never undoes the
contraction of a consensus step.
"""

from __future__ import annotations

import numpy as np

from otswarm.coordination.errors import HistogramError

_MASS_TOL = 1e-6


def check_support(support) -> np.ndarray:
    """The support as a float array, or HistogramError when not strictly increasing."""
    x = np.asarray(support, dtype=float)
    if x.ndim != 1 or x.size < 2:
        raise HistogramError(f"support must be 1-D with at least 2 points, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or np.any(np.diff(x) <= 0):
        raise HistogramError(f"support must be finite and strictly increasing, got {x.tolist()}")
    return x


def check_histograms(hists, n: int, name: str = "histogram") -> np.ndarray:
    """Histograms as an ``(m, n)`` float array normalised to mass 1.

    Raises HistogramError on a wrong length, negative or non-finite entries, or a
    total mass that is not positive.
    """
    h = np.atleast_2d(np.asarray(hists, dtype=float))
    if h.ndim != 2 or h.shape[1] != n:
        raise HistogramError(f"{name} must have {n} bins, got shape {np.shape(hists)}")
    if not np.all(np.isfinite(h)) or np.any(h < 0):
        raise HistogramError(f"{name} has negative or non-finite mass: {h.tolist()}")
    mass = h.sum(axis=1, keepdims=True)
    if np.any(mass <= _MASS_TOL):
        raise HistogramError(f"{name} has no mass (row sums {mass.ravel().tolist()})")
    return h / mass


def linear_binning(positions: np.ndarray, masses: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Put atoms at ``positions`` (clipped to the support's range) onto the support."""
    y = np.clip(positions, support[0], support[-1])
    k = np.clip(np.searchsorted(support, y, side="right") - 1, 0, support.size - 2)
    theta = (y - support[k]) / (support[k + 1] - support[k])
    out = np.bincount(k, weights=masses * (1.0 - theta), minlength=support.size)
    out += np.bincount(k + 1, weights=masses * theta, minlength=support.size)
    return out / out.sum()


def _segments(cdfs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Common refinement of (0, 1] by all CDF levels: segment masses and midpoints.

    The distinct levels come from a sort and one comparison, not ``np.unique``,
    whose first call imports ``numpy.ma`` (about 60 ms inside an agent's tick).
    """
    levels = np.sort(np.concatenate(([0.0, 1.0], np.clip(cdfs.ravel(), 0.0, 1.0))))
    levels = levels[np.concatenate(([True], levels[1:] != levels[:-1]))]
    return np.diff(levels), 0.5 * (levels[:-1] + levels[1:])


def _quantile_index(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index ``min{k : F_k >= u}`` of the quantile function at levels ``u``."""
    return np.minimum(np.searchsorted(cdf, u, side="left"), cdf.size - 1)


def barycenter_1d(hists, support, weights=None) -> np.ndarray:
    """Exact W2 barycenter of histograms on an ordered support (quantile averaging).

    ``hists``: ``(m, n)`` histograms on ``support`` (n points). ``weights``: m
    non-negative weights (normalised here), uniform when None. Cost
    ``O(m * n * log(m * n))``. Returns a histogram on ``support``.
    """
    x = check_support(support)
    h = check_histograms(hists, x.size)
    if weights is None:
        w = np.full(h.shape[0], 1.0 / h.shape[0])
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (h.shape[0],) or np.any(w < 0) or w.sum() <= 0:
            raise HistogramError(f"weights must be {h.shape[0]} non-negative numbers, got {w}")
        w = w / w.sum()
    cdfs = np.cumsum(h, axis=1)
    masses, mids = _segments(cdfs)
    positions = np.zeros_like(mids)
    for cdf, weight in zip(cdfs, w, strict=True):
        positions += weight * x[_quantile_index(cdf, mids)]
    return linear_binning(positions, masses, x)


def displacement_interpolate(p, q, t: float, support) -> np.ndarray:
    """McCann interpolant ``(1 - t) p + t q`` along the W2 geodesic (``t`` in [0, 1])."""
    if not 0.0 <= t <= 1.0:
        raise HistogramError(f"interpolation step t must be in [0, 1], got {t}")
    return barycenter_1d(np.vstack([p, q]), support, weights=[1.0 - t, t])


def monotone_kernel(source, target, support) -> np.ndarray:
    """Row-stochastic ``(n, n)`` kernel of the monotone (optimal) map from source to target.

    ``K[i, j]`` is the fraction of the source mass at ``x_i`` that the comonotone
    coupling sends to ``x_j``; so ``source @ K == target``, and any histogram
    ``p`` is pushed forward as ``p @ K``. Rows where the source has no mass keep
    their mass in place (identity row).
    """
    x = check_support(support)
    src, tgt = check_histograms(np.vstack([source, target]), x.size)
    cdf_s, cdf_t = np.cumsum(src), np.cumsum(tgt)
    masses, mids = _segments(np.vstack([cdf_s, cdf_t]))
    coupling = np.zeros((x.size, x.size))
    np.add.at(coupling, (_quantile_index(cdf_s, mids), _quantile_index(cdf_t, mids)), masses)
    rows = coupling.sum(axis=1)
    kernel = np.eye(x.size)
    has_mass = rows > 1e-12
    kernel[has_mass] = coupling[has_mass] / rows[has_mass, None]
    return kernel


def w1_to_all(hists, reference, support) -> np.ndarray:
    """W1 from each histogram in ``hists`` to ``reference`` (closed form via CDFs)."""
    x = check_support(support)
    h = check_histograms(hists, x.size)
    ref = check_histograms(reference, x.size, "reference")[0]
    gaps = np.diff(x)
    return np.abs(np.cumsum(h, axis=1)[:, :-1] - np.cumsum(ref)[:-1]) @ gaps


def max_pairwise_w1(hists, support) -> float:
    """Largest W1 between any two histograms (the swarm's alignment spread).

    ``sum_k |F_i,k - F_j,k| (x_{k+1} - x_k)`` over all pairs, in blocks of rows
    (about 2 million differences at a time), so 5000 agents need no N x N x n array.
    """
    x = check_support(support)
    h = check_histograms(hists, x.size)
    cdfs = np.cumsum(h, axis=1)[:, :-1]
    gaps = np.diff(x)
    block = max(1, 2_000_000 // cdfs.size)
    best = 0.0
    for start in range(0, h.shape[0], block):
        chunk = cdfs[start : start + block]
        dist = np.abs(chunk[:, None, :] - cdfs[None, :, :]) @ gaps
        best = max(best, float(dist.max()))
    return best
