"""The record every transport solver returns."""

from __future__ import annotations

import math
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


@njit(cache=True)
def potentials(u, v, alpha, beta, eps, scale, f, g):
    """The potentials of the plan ``P = scale * u_i K_ij v_j`` with ``K_ij =
    exp((alpha_i + beta_j - M_ij) / eps)``: ``f = alpha + eps log(scale u)``,
    ``g = beta + eps log v``."""
    shift = eps * math.log(scale)
    for i in range(u.shape[0]):
        f[i] = alpha[i] + eps * math.log(u[i]) + shift
    for j in range(v.shape[0]):
        g[j] = beta[j] + eps * math.log(v[j])


class FactoredPlan:
    """A scaling solve's plan ``scale * diag(u) K diag(v)`` and its potentials,
    kept as factors until first read.

    A solve needs the cost and the marginals, not the ``n x m`` plan (writing
    it is a pass over memory as large as the kernel), nor ``n + m`` logarithms
    for potentials that most callers never read. :attr:`OTResult.plan` and
    :attr:`OTResult.f` / :attr:`OTResult.g` compute them once, in the dtype of
    ``K``. ``out`` holds ``u`` (``n = K.shape[0]`` entries), ``v`` (``m``),
    then the kernel's shifts ``alpha`` (``n``) and ``beta`` (``m``). Reading
    from two threads at once at worst computes a value twice.
    """

    __slots__ = ("_K", "_array", "_eps", "_out", "_potentials", "_scale")

    def __init__(self, K: np.ndarray, out: np.ndarray, scale: float, eps: float):
        self._K, self._out, self._scale, self._eps = K, out, scale, eps
        self._array = self._potentials = None

    def array(self) -> np.ndarray:
        K = self._K
        if self._array is None and K is not None:  # (None: another thread wrote it)
            n, m = K.shape
            out = np.empty(K.shape, dtype=K.dtype)
            plan_product(K, self._out[:n], self._out[n : n + m], self._scale, out)
            self._array, self._K = out, None
        return self._array

    def dual(self) -> tuple[np.ndarray, np.ndarray]:
        """``(f, g)``, units of the cost."""
        if self._potentials is None:
            (n, m), out = self._dims(), self._out
            fg = np.empty(n + m)
            potentials(out[:n], out[n : n + m], out[n + m : 2 * n + m], out[2 * n + m :],
                       self._eps, self._scale, fg[:n], fg[n:])  # fmt: skip
            dtype = self._dtype()
            self._potentials = (fg[:n], fg[n:]) if dtype == np.float64 else \
                (fg[:n].astype(dtype), fg[n:].astype(dtype))  # fmt: skip
        return self._potentials

    def _dims(self) -> tuple[int, int]:
        return (self._K if self._array is None else self._array).shape

    def _dtype(self) -> np.dtype:
        return (self._K if self._array is None else self._array).dtype

    def __array__(self, dtype=None, copy=None):
        return self.array() if dtype is None else self.array().astype(dtype)

    def __repr__(self) -> str:
        return f"FactoredPlan(shape={self._dims()}, dtype={self._dtype()})"


class _Fields(NamedTuple):
    plan: np.ndarray | FactoredPlan
    cost: float | np.ndarray
    f: np.ndarray | FactoredPlan
    g: np.ndarray | FactoredPlan
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
            (Their ``f`` and ``g`` are computed on first access too.)
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
        return held.array() if type(held) is FactoredPlan else held

    @property
    def f(self) -> np.ndarray:
        held = tuple.__getitem__(self, 2)
        return held.dual()[0] if type(held) is FactoredPlan else held

    @property
    def g(self) -> np.ndarray:
        held = tuple.__getitem__(self, 3)
        return held.dual()[1] if type(held) is FactoredPlan else held
