"""The record every transport solver returns."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


@njit(cache=True)
def plan_product(K, u, v, scale, out):
    """``out_ij = scale * u_i K_ij v_j``."""
    n, m = K.shape
    for i in range(n):
        ui = scale * u[i]
        for j in range(m):
            out[i, j] = ui * K[i, j] * v[j]


class FactoredPlan:
    """A plan kept as ``scale * diag(u) K diag(v)`` until it is first read.

    A solve needs the cost and the marginals, not the ``n x m`` plan; writing
    it is a pass over memory as large as the kernel. :attr:`OTResult.plan`
    materialises it (once) in the dtype of ``K``. ``uv`` holds ``u`` (the
    first ``K.shape[0]`` entries) and then ``v``.
    """

    __slots__ = ("_K", "_array", "_scale", "_uv")

    def __init__(self, K: np.ndarray, uv: np.ndarray, scale: float):
        self._K, self._uv, self._scale, self._array = K, uv, scale, None

    def array(self) -> np.ndarray:
        if self._array is None:
            K, n = self._K, self._K.shape[0]
            out = np.empty(K.shape, dtype=K.dtype)
            plan_product(K, self._uv[:n], self._uv[n:], self._scale, out)
            self._array, self._K = out, None
        return self._array

    def __array__(self, dtype=None, copy=None):
        return self.array() if dtype is None else self.array().astype(dtype)


class _Fields(NamedTuple):
    plan: np.ndarray | FactoredPlan
    cost: float | np.ndarray
    f: np.ndarray
    g: np.ndarray
    n_iter: int | np.ndarray
    converged: bool | np.ndarray
    marginal_error: float | np.ndarray
    method: str
    reg: float


class OTResult(_Fields):
    """Outcome of one transport solve (immutable).

    For a batch solve (:func:`otswarm.ot.sinkhorn_batch`) every field gains a
    leading batch axis: ``plan`` is ``(B, n, m)``, ``cost`` ... ``converged`` are
    ``(B,)`` arrays.

    Attributes:
        plan: transport plan ``P`` of shape ``(n, m)``, ``P[i, j]`` is the mass
            sent from source point ``i`` to target point ``j``. The scaling
            solvers keep it factored (:class:`FactoredPlan`) and compute it on
            first access; ``cost`` and ``marginal_error`` never need it.
        cost: transport cost ``<P, M> = sum_ij P_ij M_ij`` in the units of ``M``
            (what POT's ``sinkhorn2``/``emd2`` return; the entropy term is not
            included).
        f: dual potential of the sources, shape ``(n,)``, units of ``M``. For the
            entropic solvers ``P = exp((f_i + g_j - M_ij) / reg)`` (times the
            reference measure for ``reg_type="kl"``); for ``emd`` the LP duals.
        g: dual potential of the targets, shape ``(m,)``.
        n_iter: number of scaling sweeps performed (``emd``: simplex pivots).
        converged: ``True`` when the stopping criterion was met within
            ``max_iter``; never silently ``True`` for a wrong answer.
        marginal_error: ``|P 1 - a|_1 + |P^T 1 - b|_1`` of the returned plan
            (for unbalanced problems this measures the relaxation, not an error).
        method: the algorithm that produced the result (``"kernel"``, ``"log"``,
            ``"unbalanced"``, ``"emd"``, ``"emd-highs"`` for ``emd``'s LP fallback).
        reg: entropic regularisation used (``0.0`` for ``emd``).
    """

    __slots__ = ()

    @property
    def plan(self) -> np.ndarray:
        held = tuple.__getitem__(self, 0)
        return held.array() if isinstance(held, FactoredPlan) else held
