"""Unbalanced entropic OT: ``sinkhorn_unbalanced``.

Solves (Chizat, Peyré, Schmitzer, Vialard 2018; POT's convention)::

    min_P  <P, M> + reg KL(P | c) + rho_a KL(P 1 | a) + rho_b KL(P^T 1 | b)

with ``c = a b^T`` (``reg_type="kl"``, POT's default) or ``c = 1``
(``reg_type="entropy"``), where ``KL(x | y) = sum x log(x / y) - x + y``. Mass
need not be conserved: ``rho`` (``reg_m``, units of ``M`` per unit mass) is the
price of creating or destroying mass; ``rho = inf`` makes that side a hard
constraint. Solved by the generalised scaling iteration with exponents
``rho / (rho + reg)``: over-relaxed in the kernel domain (``_kernel``) when
the reduced costs of the (reference-shifted) cost spread over at most
``KERNEL_SPREAD`` times ``reg``, as ``sinkhorn``'s ``"auto"``; otherwise, or
after a kernel-domain breakdown, in the stabilised log domain (``_scaling``),
over-relaxed there too.
"""

from __future__ import annotations

import math

import numpy as np

from otswarm.ot import _checks, _driver, _support
from otswarm.ot._solver import AUTO
from otswarm.ot.errors import OTInputError
from otswarm.ot.result import OTResult
from otswarm.ot.sinkhorn import KERNEL_SPREAD

REG_TYPES = ("kl", "entropy")


def sinkhorn_unbalanced(
    a,
    b,
    M,
    reg: float,
    reg_m,
    *,
    reg_type: str = "kl",
    max_iter: int = 1000,
    tol: float | None = None,
    init: tuple | None = None,
    check_every: int = 1,
) -> OTResult:
    """Unbalanced entropic transport plan between ``a`` and ``b``.

    Args:
        a, b: non-negative weights ``(n,)`` and ``(m,)``; masses may differ.
        M: cost matrix ``(n, m)``.
        reg: entropic regularisation ``> 0`` (units of ``M``).
        reg_m: marginal relaxation ``rho``, a scalar or a pair ``(rho_a, rho_b)``,
            each ``> 0`` or ``inf``.
        reg_type: ``"kl"`` (reference ``a b^T``) or ``"entropy"`` (reference 1).
        max_iter, check_every: as in :func:`sinkhorn`.
        tol: stop when an iteration changes the marginals of the plan by at
            most ``tol`` in L2 (default ``1e-9``, float32 ``1e-6``).
        init: warm start ``(f, g)`` from a previous result.

    Returns:
        :class:`OTResult` with ``cost = <P, M>`` (as POT's
        ``sinkhorn_unbalanced2``) and ``marginal_error`` the L1 distance of the
        plan's marginals to ``(a, b)`` (the relaxation, not an error).
    """
    a, b, M, dtype = _checks.pair_problem(a, b, M, finite=False)  # M: _finite_costs
    n, m = M.shape
    reg = _checks.positive(reg, "reg")
    rho = _pair(reg_m)
    if reg_type not in REG_TYPES:
        raise OTInputError(f"reg_type: expected one of {REG_TYPES}, got {reg_type!r}")
    if math.isinf(rho[0]) and math.isinf(rho[1]):
        _checks.same_mass(a, b)
    tol, max_iter, check_every = _checks.iteration_options(tol, max_iter, check_every, dtype)
    support = _support.find(a, b)
    _finite_costs(M, support)
    if init is not None:
        init = _support.restrict_potentials(support, *_checks.potentials(init, n, m))
    a_s, b_s, M_s = _support.restrict(support, a, b, M)
    a64, b64 = a_s.astype(np.float64), b_s.astype(np.float64)
    # K = exp(-M / reg) a b^T = exp(-(M - reg log a - reg log b) / reg): the reduced cost,
    # never written in the kernel domain (_solver.solve_problem)
    shift = (reg * np.log(a64), reg * np.log(b64)) if reg_type == "kl" else None
    result = _driver.scaling_solve(
        a64, b64, M_s, reg, mode=AUTO, kernel_spread=KERNEL_SPREAD[dtype], anneal=False,
        init=init, max_iter=max_iter,
        tol=tol, check_every=check_every, rho=rho, name="unbalanced", shift=shift,
    )  # fmt: skip
    return _driver.on_full_grid(result, support, M)


def _finite_costs(M: np.ndarray, support: _support.Support) -> None:
    """Check ``M`` finite where :func:`_driver.scaling_solve` will not: every
    entry of ``M`` on a full support is read by its column ranges, which raise
    the same :class:`OTInputError` (one pass over ``M`` fewer); the entries
    of zero-weight points are not, so any zero weight checks the whole ``M``
    here (a NaN cost of a point without mass is an error as well: its
    potential on the full grid is a c-transform over it)."""
    if support.rows is not None or support.cols is not None:
        _checks.finite_costs(M)


def _pair(reg_m) -> tuple[float, float]:
    values = np.atleast_1d(np.asarray(reg_m, dtype=object))
    if values.ndim != 1 or len(values) not in (1, 2):
        raise OTInputError(f"reg_m: expected a scalar or a pair, got {reg_m!r}")
    rho = [_checks.positive_or_inf(x, f"reg_m[{k}]") for k, x in enumerate(values)]
    return (rho[0], rho[-1])
