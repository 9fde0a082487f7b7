"""The record every transport solver returns."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class OTResult(NamedTuple):
    """Outcome of one transport solve (immutable).

    For a batch solve (:func:`otswarm.ot.sinkhorn_batch`) every field gains a
    leading batch axis: ``plan`` is ``(B, n, m)``, ``cost`` ... ``converged`` are
    ``(B,)`` arrays.

    Attributes:
        plan: transport plan ``P`` of shape ``(n, m)``, ``P[i, j]`` is the mass
            sent from source point ``i`` to target point ``j``.
        cost: transport cost ``<P, M> = sum_ij P_ij M_ij`` in the units of ``M``
            (what POT's ``sinkhorn2``/``emd2`` return; the entropy term is not
            included).
        f: dual potential of the sources, shape ``(n,)``, units of ``M``. For the
            entropic solvers ``P = exp((f_i + g_j - M_ij) / reg)`` (times the
            reference measure for ``reg_type="kl"``); for ``emd`` the LP duals.
        g: dual potential of the targets, shape ``(m,)``.
        n_iter: number of scaling sweeps performed (``0`` for ``emd``).
        converged: ``True`` when the stopping criterion was met within
            ``max_iter``; never silently ``True`` for a wrong answer.
        marginal_error: ``|P 1 - a|_1 + |P^T 1 - b|_1`` of the returned plan
            (for unbalanced problems this measures the relaxation, not an error).
        method: the algorithm that produced the result (``"kernel"``, ``"log"``,
            ``"unbalanced"``, ``"emd"``).
        reg: entropic regularisation used (``0.0`` for ``emd``).
    """

    plan: np.ndarray
    cost: float | np.ndarray
    f: np.ndarray
    g: np.ndarray
    n_iter: int | np.ndarray
    converged: bool | np.ndarray
    marginal_error: float | np.ndarray
    method: str
    reg: float
