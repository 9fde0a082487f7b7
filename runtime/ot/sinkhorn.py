"""Entropic OT between two histograms: ``sinkhorn``.

Solves ``min_P <P, M> + reg * sum_ij P_ij (log P_ij - 1)`` subject to
``P 1 = a``, ``P^T 1 = b``, ``P >= 0`` (Cuturi 2013). ``method="kernel"`` is
Sinkhorn-Knopp on ``K = exp(-M / reg)``, redone in the log domain when a sum
under/overflows or when the entries the build flushed to 0 could carry mass
(``_kernel.flush_harmless``); ``method="log"`` is the log-domain
solver (stabilised scaling with absorbed potentials and epsilon scaling, see
``_scaling``), safe for any ``reg > 0``; ``method="auto"`` takes the kernel
domain when the spread of the reduced costs ``M_ij - min_j M_ij`` is at most
``400 reg`` (``60 reg`` in float32; ``_solver.KERNEL_SPREAD``).
"""

from __future__ import annotations

import logging
from logging import INFO

import numpy as np

from otswarm.ot import _checks, _driver, _plain, _support
from otswarm.ot._checks import DEFAULT_TOL
from otswarm.ot._driver import CONVERGED
from otswarm.ot._plain import HISTORY, NEEDS_LOG, SMALL, SOLVERS
from otswarm.ot._solver import AUTO, KERNEL, KERNEL_SPREAD, LOG
from otswarm.ot.errors import OTInputError
from otswarm.ot.result import FactoredPlan, OTResult

log = logging.getLogger(__name__)
_empty = np.empty  # the plain path's names, bound once (each global attribute read costs)
_new_result = tuple.__new__

METHODS = ("auto", "kernel", "log")
MODES = {"kernel": KERNEL, "log": LOG, "auto": AUTO}


def sinkhorn(
    a,
    b,
    M,
    reg: float,
    *,
    method: str = "auto",
    max_iter: int = 1000,
    tol: float | None = None,
    init: tuple | None = None,
    check_every: int = 1,
) -> OTResult:
    """Entropic optimal transport plan between ``a`` and ``b``.

    Args:
        a: source weights, shape ``(n,)``, ``>= 0`` (``None``: uniform).
        b: target weights, shape ``(m,)``, same total mass as ``a``.
        M: cost matrix ``(n, m)`` in cost units (e.g. joules or squared metres).
        reg: entropic regularisation ``> 0``, in the units of ``M``.
        method: ``"auto"``, ``"kernel"`` or ``"log"`` (see module docstring).
        max_iter: maximum number of Sinkhorn iterations (all stages together).
        tol: stop when the marginal violation of the returned plan,
            ``(|P 1 - a|_2^2 + |P^T 1 - b|_2^2)^(1/2)``, is at most
            ``tol * mass``; default ``1e-9`` (``1e-6`` in float32).
        init: warm start ``(f, g)``, dual potentials of a previous solve
            (e.g. ``result.f, result.g``).
        check_every: test the stopping criterion every this many iterations.
            The marginal violation comes free with each fused sweep, so the
            default tests every iteration (POT tests every 10th).

    Returns:
        :class:`OTResult`; ``converged=False`` when ``tol`` was not reached.
        float32 input (``M`` float32) gives a float32 plan.

    Raises:
        OTInputError: bad shapes, negative or non-finite weights, non-finite
            costs, unequal masses, ``reg <= 0``, unknown ``method``.
    """
    if (  # maybe plain input (see _plain): one compiled call, checks included
        type(M) is np.ndarray
        and type(reg) is float
        and type(max_iter) is int
        and type(check_every) is int
        and init is None
        and type(method) is str
        and M.ndim == 2
    ):
        dtype = M.dtype
        solvers = SOLVERS.get(dtype) or _plain.solvers(dtype)
        mode = MODES.get(method)
        if solvers is not None and mode is not None:
            kernel_only, general = solvers
            plain_tol = DEFAULT_TOL[dtype] if tol is None else tol
            n, m = shape = M.shape
            # the result's buffer (_plain's layout: factored_size(n, m, M.itemsize) + n +
            # 3 m + work_size(m)), written out: a call to compute it cost more than np.empty
            buffer = _empty(3 * n + 12 * m + (M.nbytes + 7) // 8 + HISTORY)
            solve = kernel_only if n * m < SMALL and mode != LOG else general
            try:
                mass, cost, marginal_error, n_iter, err, status, stabilized = solve(
                    a, b, M, buffer, reg, mode, max_iter, plain_tol, check_every
                )
                if mass == NEEDS_LOG:  # checked, for the log domain
                    mass, cost, marginal_error, n_iter, err, status, stabilized = general(
                        a, b, M, buffer, reg, mode, max_iter, plain_tol, check_every
                    )
            except TypeError:  # the dispatch found no matching signature
                mass = 0.0
            if mass > 0.0:  # the checks passed and it solved: _driver.result, inlined
                factors = FactoredPlan(shape, dtype, buffer, reg)  # (0.2 us of a 4 us call)
                factors.scale = mass
                method_used = "log" if stabilized else "kernel"
                converged = status == CONVERGED
                if not converged and _driver.log.isEnabledFor(INFO):  # here: a call costs
                    _driver.log_unconverged(method_used, n_iter, err, plain_tol)
                fields = (factors, cost, factors, factors, n_iter, converged, marginal_error,
                          method_used, reg)  # fmt: skip
                if stabilized and method == "kernel":
                    _log_fallback(reg)
                return _new_result(OTResult, fields)
    result = _checked(a, b, M, reg, method, max_iter, tol, init, check_every)
    if method == "kernel" and result.method == "log":
        _log_fallback(reg)
    return result


def _log_fallback(reg: float) -> None:
    """The log line of a ``method="kernel"`` solve that the log domain took."""
    log.info("kernel-domain Sinkhorn under/overflowed (or its flushed entries could carry "
             "mass) at reg=%g; used the log domain", reg)  # fmt: skip


def _checked(a, b, M, reg, method, max_iter, tol, init, check_every) -> OTResult:
    """Any input: every check of :mod:`._checks` (typed errors), zero weights
    solved on the support, warm starts."""
    a, b, M, dtype = _checks.pair_problem(a, b, M)
    n, m = M.shape
    reg = _checks.positive(reg, "reg")
    if method not in METHODS:
        raise OTInputError(f"method: expected one of {METHODS}, got {method!r}")
    tol, max_iter, check_every = _checks.iteration_options(tol, max_iter, check_every, dtype)
    mass, zeros = _checks.same_mass(a, b)
    support = _support.find(a, b) if zeros else _support.FULL
    a_s, b_s, M_s = _support.restrict(support, a, b, M)
    if init is not None:
        init = _support.restrict_potentials(support, *_checks.potentials(init, n, m))
    result = _driver.scaling_solve(
        _driver.unit_mass(a_s, mass), _driver.unit_mass(b_s, mass),
        M_s, reg, mode=MODES[method], kernel_spread=KERNEL_SPREAD[dtype], init=init,
        max_iter=max_iter, tol=tol, check_every=check_every, mass=mass,
    )  # fmt: skip
    return _driver.on_full_grid(result, support, M)
