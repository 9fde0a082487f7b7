"""The plans and potentials of a ``sinkhorn_batch``, kept factored until read.

A batch of a thousand 16 x 16 problems is mostly read for its costs: writing
every plan (``P x n x m`` entries) and ``P (n + m)`` logarithms for the
potentials took a fifth of the solve. A kernel-domain problem ``p`` leaves
its scalings ``U[p], V[p]`` and the column shift ``beta[p]`` (and the spread)
of its kernel ``K_ij = exp((beta_j - M_ij) / eps)``; its plan is
``mass_p U[p]_i K_ij V[p]_j`` with ``K`` rebuilt by the same compiled
:func:`._kernel.build` from ``M`` (the same entries the solve used), its
potentials ``f = eps log(mass_p U[p])`` and ``g = beta[p] + eps log V[p]``
(:func:`.result.potentials`). The other problems (log domain, zero weights)
are held as the plans and potentials their solvers returned.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

from otswarm.ot._kernel import build
from otswarm.ot.result import Deferred, plan_product, potentials


@njit(cache=True)
def _kernel_plans(Ms, problems, U, V, beta, spreads, masses, eps, tiny, plans):
    """``plans[p] = masses[p] diag(U[p]) K diag(V[p])`` for the listed problems,
    ``K`` built over ``plans[p]``."""
    m = plans.shape[2]
    col = np.empty(m)
    shift, sums = np.empty(m, dtype=plans.dtype), np.empty(m, dtype=plans.dtype)
    for p in problems:
        M = Ms[0] if Ms.shape[0] == 1 else Ms[p]
        build(M, beta[p], spreads[p], eps, plans[p], col, tiny, shift, sums)
        plan_product(plans[p], U[p], V[p], masses[p], plans[p])


@njit(cache=True)
def _kernel_potentials(problems, U, V, beta, masses, eps, F, G):
    """The potentials of the listed problems' plans (no row shift: ``alpha = 0``)."""
    alpha = np.zeros(U.shape[1])
    for p in problems:
        potentials(U[p], V[p], alpha, beta[p], eps, masses[p], F[p], G[p])


class BatchPlan(Deferred):
    """Plans ``(P, n, m)`` and potentials ``(P, n), (P, m)`` of a batch in the
    dtype of ``Ms``, computed once on first read (under a lock: two threads
    reading at once get the same arrays).

    ``factored`` lists the kernel-domain problems (``U``, ``V``, ``beta``,
    ``spreads`` as :func:`._lanes.solve_lanes` leaves them, ``masses`` the
    mass of each problem); ``held`` the others, with their ``plans``, ``f``
    and ``g`` in that order."""

    __slots__ = ("_factored", "_held", "_lock", "_plan", "_potentials", "eps")

    def __init__(self, Ms, eps, masses, factored, U, V, beta, spreads, held, plans, f, g):
        self.eps = eps
        self._factored = (Ms, masses, factored, U, V, beta, spreads)
        self._held = (held, plans, f, g)
        self._lock = threading.Lock()
        self._plan = None
        self._potentials = None

    def array(self) -> np.ndarray:
        with self._lock:
            if self._plan is None:
                Ms, masses, factored, U, V, beta, spreads = self._factored
                held, plans, _, _ = self._held
                out = np.empty((len(masses), *Ms.shape[1:]), dtype=Ms.dtype)
                tiny = float(np.finfo(Ms.dtype).tiny)
                _kernel_plans(Ms, factored, U, V, beta, spreads, masses, self.eps, tiny, out)
                out[held] = plans
                self._plan = out
        return self._plan

    def dual(self) -> tuple[np.ndarray, np.ndarray]:
        """``(f, g)``, units of the cost."""
        with self._lock:
            if self._potentials is None:
                Ms, masses, factored, U, V, beta, _ = self._factored
                held, _, f, g = self._held
                F, G = np.empty(U.shape), np.empty(V.shape)
                _kernel_potentials(factored, U, V, beta, masses, self.eps, F, G)
                F[held], G[held] = f, g
                dtype = Ms.dtype
                self._potentials = (F.astype(dtype, copy=False), G.astype(dtype, copy=False))
        return self._potentials

    def __array__(self, dtype=None, copy=None):
        return self.array() if dtype is None else self.array().astype(dtype)

    def __repr__(self) -> str:
        Ms, masses = self._factored[:2]
        return f"BatchPlan(shape={(len(masses), *Ms.shape[1:])}, dtype={Ms.dtype})"
