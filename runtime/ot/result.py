"""The record every transport solver returns."""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np
from numba import njit
from numba.extending import register_jitable


@njit(cache=True)
def plan_product(K, u, v, scale, out):
    """``out_ij = scale * u_i K_ij v_j`` (``out`` may be ``K``)."""
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


@register_jitable
def factored_size(n: int, m: int, itemsize: int) -> int:
    """Float64 entries of a :class:`FactoredPlan` buffer of ``n x m`` with
    a kernel of ``itemsize`` bytes an entry: ``u, v, alpha, beta``, then
    ``K``."""
    return 2 * (n + m) + (n * m * itemsize + 7) // 8


class Deferred:
    """Base of the plans a solver keeps as factors until first read
    (:class:`FactoredPlan`, :class:`._batch_plan.BatchPlan`): ``array()``
    gives the plan, ``dual()`` the potentials ``(f, g)``; :class:`OTResult`
    calls them when its ``plan``, ``f`` or ``g`` is read."""

    __slots__ = ()


class FactoredPlan(Deferred):
    """A scaling solve's plan ``scale * diag(u) K diag(v)`` and its potentials,
    kept as factors until first read.

    A solve needs the cost and the marginals, not the ``n x m`` plan, nor
    ``n + m`` logarithms for potentials that most callers never read.
    :attr:`OTResult.plan` and :attr:`OTResult.f` / :attr:`OTResult.g` compute
    them once, in the dtype of ``K``. The solve works in :attr:`buffer`, one
    float64 array: ``u`` (``n`` entries), ``v`` (``m``), the kernel's shifts
    ``alpha`` (``n``) and ``beta`` (``m``), then ``K_ij = exp((alpha_i + beta_j
    - M_ij) / eps)`` (``n x m`` in the dtype of ``M``); :attr:`scale` is set
    after the solve (the mass divided out of the weights); :meth:`allocate`
    gives a buffer for a solve on ``M``. The plan is written
    over ``K`` (no second ``n x m`` array), under a lock, so two threads
    reading it at once get the same plan; potentials read from two threads at
    once are at worst computed twice.
    """

    __slots__ = ("_dtype", "_plan", "_potentials", "_shape", "buffer", "eps", "scale")

    def __init__(self, shape: tuple[int, int], dtype: np.dtype, buffer: np.ndarray, eps: float):
        self._shape = shape
        self._dtype = dtype
        self.buffer = buffer
        self.eps = eps
        self.scale = 1.0
        self._plan = None
        self._potentials = None

    @staticmethod
    def allocate(M: np.ndarray) -> np.ndarray:
        """An uninitialised :attr:`buffer` for a solve on ``M``: ``2 (n + m)``
        float64 entries, then room for ``n x m`` in the dtype of ``M``
        (:func:`factored_size` in all; a longer buffer holds the solver's
        work after them, the plain path's, :mod:`._plain`)."""
        n, m = M.shape
        return np.empty(factored_size(n, m, M.itemsize))

    def factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``u, v, alpha, beta``: views of the head of :attr:`buffer`."""
        (n, m), buf = self._shape, self.buffer
        return buf[:n], buf[n : n + m], buf[n + m : 2 * n + m], buf[2 * n + m : 2 * (n + m)]

    def kernel(self) -> np.ndarray:
        """``K``: a view of the tail of :attr:`buffer` (the plan once read)."""
        n, m = self._shape
        return self.buffer[2 * (n + m) :].view(self._dtype)[: n * m].reshape(n, m)

    def array(self) -> np.ndarray:
        if self._plan is None:
            with _PLAN_LOCK:
                if self._plan is None:
                    K, (u, v, _, _) = self.kernel(), self.factors()
                    plan_product(K, u, v, self.scale, K)
                    self._plan = K
        return self._plan

    def dual(self) -> tuple[np.ndarray, np.ndarray]:
        """``(f, g)``, units of the cost."""
        if self._potentials is None:
            (n, m), dtype = self._shape, self._dtype
            fg = np.empty(n + m)
            potentials(*self.factors(), self.eps, self.scale, fg[:n], fg[n:])
            self._potentials = (fg[:n], fg[n:]) if dtype == np.float64 else \
                (fg[:n].astype(dtype), fg[n:].astype(dtype))  # fmt: skip
        return self._potentials

    def __array__(self, dtype=None, copy=None):
        return self.array() if dtype is None else self.array().astype(dtype)

    def __repr__(self) -> str:
        return f"FactoredPlan(shape={self._shape}, dtype={self._dtype})"


_PLAN_LOCK = threading.Lock()  # writing a plan over its kernel happens once


class _Fields(NamedTuple):
    plan: np.ndarray | Deferred
    cost: float | np.ndarray
    f: np.ndarray | Deferred
    g: np.ndarray | Deferred
    n_iter: int | np.ndarray
    converged: bool | np.ndarray
    marginal_error: float | np.ndarray
    method: str
    reg: float


class OTResult(_Fields):
    """Outcome of one transport solve (immutable).

    For a batch solve (:func:`otswarm.ot.sinkhorn_batch`) every field gains a
    leading batch axis: ``plan`` is ``(B, n, m)``, ``cost`` ... ``converged`` are
    ``(B,)`` arrays; its plans and potentials are computed on first access too.

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
        return held.array() if isinstance(held, Deferred) else held

    @property
    def f(self) -> np.ndarray:
        held = tuple.__getitem__(self, 2)
        return held.dual()[0] if isinstance(held, Deferred) else held

    @property
    def g(self) -> np.ndarray:
        held = tuple.__getitem__(self, 3)
        return held.dual()[1] if isinstance(held, Deferred) else held
