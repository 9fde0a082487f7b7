"""Debiased Sinkhorn divergence: ``sinkhorn_divergence``.

With the entropic cost relative to the product measure (Feydy, Séjourné,
Vialard, Amari, Trouvé, Peyré 2019, "Interpolating between optimal transport
and MMD using Sinkhorn divergences")::

    OT_reg(a, b) = min_P <P, M_ab> + reg KL(P | a b^T)    (a, b of unit mass)
    S(a, b) = OT_reg(a, b) - 1/2 OT_reg(a, a) - 1/2 OT_reg(b, b)

``S(a, a) = 0``, and ``S >= 0`` whenever ``exp(-C / reg)`` is a positive
definite kernel (``C = |x - y|`` or ``|x - y|^2``). Note that the *transport
cost* ``<P, M>`` alone (what ``sinkhorn2`` returns, and what POT's
``empirical_sinkhorn_divergence`` debiases) gives a quantity that can be
negative; ``OT_reg`` here includes the entropy term.

``OT_reg`` is read off the dual potentials of :func:`otswarm.ot.sinkhorn`,
whose plan is ``P = exp((f_i + g_j - M_ij) / reg)``: in the product-measure
form the potentials are ``f_i - reg log a_i`` and ``g_j - reg log b_j``, and at
the optimum ``OT_reg = sum_i a_i (f_i - reg log a_i) + sum_j b_j (g_j - reg log b_j)``
(the dual objective, no plan needed).
"""

from __future__ import annotations

import logging

import numpy as np

from otswarm.ot import _checks
from otswarm.ot.errors import OTInputError
from otswarm.ot.sinkhorn import sinkhorn

log = logging.getLogger(__name__)


def _entropic_cost(a, b, M, reg: float, **options) -> tuple[float, bool]:
    """``OT_reg(a, b)`` of unit-mass ``a, b`` from the dual potentials of
    :func:`sinkhorn` (``options``: its keywords), and whether it converged."""
    result = sinkhorn(a, b, M, reg, **options)
    value = _weighted(a, result.f, reg) + _weighted(b, result.g, reg)
    return value, bool(result.converged)


def _weighted(w: np.ndarray, potential: np.ndarray, reg: float) -> float:
    """``sum_i w_i (potential_i - reg log w_i)`` over the support of ``w``."""
    w64 = w.astype(np.float64)
    on = w64 > 0
    return float(np.dot(w64[on], potential.astype(np.float64)[on] - reg * np.log(w64[on])))


def sinkhorn_divergence(
    a,
    b,
    M_ab,
    M_aa,
    M_bb,
    reg: float,
    *,
    method: str = "auto",
    max_iter: int = 1000,
    tol: float | None = None,
) -> float:
    """Debiased Sinkhorn divergence ``S(a, b)`` (module docstring).

    Args:
        a: source weights ``(n,)`` (``None``: uniform); b: target weights
            ``(m,)`` with the same total mass.
        M_ab: cost ``(n, m)`` between the two supports; M_aa: ``(n, n)`` within
            the source support; M_bb: ``(m, m)`` within the target support
            (same units as ``M_ab``, e.g. squared metres).
        reg: entropic regularisation ``> 0``, units of the costs.
        method, max_iter, tol: as in :func:`otswarm.ot.sinkhorn`, for each of
            the three solves.

    Returns:
        ``mass * S(a / mass, b / mass)`` in the units of the costs (for unit
        mass, ``S`` itself). A log line warns when one of the three solves
        did not reach ``tol``.

    Raises:
        OTInputError: as :func:`otswarm.ot.sinkhorn` for each problem, and when
            the shapes of ``M_aa``, ``M_bb`` do not fit ``M_ab``.
    """
    a, b, M_ab, dtype = _checks.pair_problem(a, b, M_ab)
    n, m = M_ab.shape
    M_aa = _checks.cost_matrix(M_aa, dtype, "M_aa")
    M_bb = _checks.cost_matrix(M_bb, dtype, "M_bb")
    if M_aa.shape != (n, n) or M_bb.shape != (m, m):
        raise OTInputError(
            f"M_aa, M_bb: expected shapes ({n}, {n}) and ({m}, {m}) for M_ab of shape "
            f"({n}, {m}), got {M_aa.shape} and {M_bb.shape}"
        )
    mass, _ = _checks.same_mass(a, b)
    reg = _checks.positive(reg, "reg")
    a, b = a / dtype.type(mass), b / dtype.type(mass)
    options = {"method": method, "max_iter": max_iter, "tol": tol}
    ab, ok_ab = _entropic_cost(a, b, M_ab, reg, **options)
    aa, ok_aa = _entropic_cost(a, a, M_aa, reg, **options)
    bb, ok_bb = _entropic_cost(b, b, M_bb, reg, **options)
    if not (ok_ab and ok_aa and ok_bb):
        log.warning(
            "sinkhorn_divergence: a solve stopped before tol (ab %s, aa %s, bb %s)",
            ok_ab, ok_aa, ok_bb,
        )  # fmt: skip
    return mass * (ab - 0.5 * aa - 0.5 * bb)
