"""Energy allocation: match harvested surplus to demand with an entropic OT plan.

Suppliers offer ``s_i`` J (surplus), consumers need ``d_j`` J delivered. A plan
``P_ij`` is the energy *sent* by ``i`` for ``j``; ``j`` receives
``P_ij (1 - L_ij)`` (see :mod:`otswarm.coordination.costs`). A plan is feasible
when ``sum_j P_ij <= s_i`` and ``sum_i P_ij (1 - L_ij) <= d_j``.

The OT plan solves, on masses normalised by ``S = max(sum s, sum g)`` with the
gross demand ``g_j = d_j / (1 - min_i L_ij)`` (what ``j`` needs sent at best),

    balanced   (sum s == sum g):  min_P <P, C> - reg H(P),   P 1 = s,  P^T 1 = g
    unbalanced (sum s > sum g):   min_P <P, C> - reg H(P) + reg_m KL(P 1 | s),  P^T 1 = g
               (sum s < sum g):   the same with the roles of s and g swapped

with ``otswarm.ot.sinkhorn`` / ``sinkhorn_unbalanced``, and is then projected on
the feasible set (rows scaled down to their offer, then columns to their need;
scaling columns down keeps rows feasible); a few passes re-plan what is left
unserved. Baselines: greedy nearest-first (pairs
by increasing cost, each filled as far as possible) and proportional sharing
(``P_ij = s_i g_j / S``). :func:`evaluate` gives moved, delivered, wasted (transfer
losses ``<P, L>``) and unmet demand, all in joules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from otswarm.coordination.errors import PlanError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanOutcome:
    """Joules moved, delivered, lost on the way, still missing, and the planning cost."""

    moved_j: float
    delivered_j: float
    wasted_j: float
    unmet_j: float
    cost: float


def _check(supply, demand, loss) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(supply, dtype=float).ravel()
    d = np.asarray(demand, dtype=float).ravel()
    loss = np.asarray(loss, dtype=float)
    if loss.shape != (s.size, d.size):
        raise PlanError(f"loss/cost matrix has shape {loss.shape}, expected {(s.size, d.size)}")
    for name, v in (("supply", s), ("demand", d)):
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise PlanError(f"{name} must be finite joules >= 0, got {v.tolist()}")
    return s, d, loss


def gross_demand(demand, loss) -> np.ndarray:
    """``g_j = d_j / (1 - min_i L_ij)``: joules that must be sent for ``d_j`` to arrive."""
    loss = np.asarray(loss, dtype=float)
    if loss.shape[0] == 0:
        return np.asarray(demand, dtype=float)
    return np.asarray(demand, dtype=float) / (1.0 - loss.min(axis=0))


def make_feasible(plan, supply, demand, loss) -> np.ndarray:
    """Scale rows down to the offers, then columns down to the needs (J sent)."""
    s, d, loss = _check(supply, demand, loss)
    p = np.clip(np.asarray(plan, dtype=float), 0.0, None)
    rows = p.sum(axis=1)
    p *= np.where(rows > s, s / np.maximum(rows, 1e-300), 1.0)[:, None]
    received = (p * (1.0 - loss)).sum(axis=0)
    p *= np.where(received > d, d / np.maximum(received, 1e-300), 1.0)[None, :]
    return p


def ot_plan(
    supply,
    demand,
    loss,
    cost=None,
    *,
    reg=None,
    reg_m: float = 0.3,
    balance_tol: float = 1e-3,
    passes: int = 3,
    max_iter: int = 10000,
    tol: float = 1e-7,
) -> np.ndarray:
    """Entropic OT plan in J sent (``cost`` defaults to ``loss``).

    ``reg`` (cost units, J/J) defaults to 3% of the cost's range (at least 0.3% of
    its largest entry). Each pass solves balanced Sinkhorn when the totals agree
    within ``balance_tol`` (relative), else *semi-relaxed* unbalanced Sinkhorn: the
    short side's marginal is exact (``reg_m = inf``) and the long side's is relaxed
    with ``reg_m`` (J/J), so ``reg_m`` prices leaving an offer (or a need) aside:
    small values pick the cheapest pairs (like greedy), large ones spread the
    shortfall (like proportional sharing). The plan is made feasible; the
    projection can leave both some offer and some need unserved, so up to
    ``passes`` passes re-plan the residual offers and needs (until less than 0.1%
    of either is left). ``tol`` is on unit-mass marginals. Non-convergence is
    logged, never hidden; the projected plan is still feasible.
    """
    s, d, loss = _check(supply, demand, loss)
    cost = loss if cost is None else np.asarray(cost, dtype=float)
    if cost.shape != loss.shape:
        raise PlanError(f"cost has shape {cost.shape}, loss {loss.shape}")
    if reg is None:
        top = float(cost.max()) if cost.size else 0.0
        reg = 0.03 * max(float(np.ptp(cost)) if cost.size else 0.0, 0.1 * top, 1e-9)
    plan = np.zeros_like(loss)
    solver = {"max_iter": max_iter, "tol": tol}
    for _ in range(passes):
        left_s = np.clip(s - plan.sum(axis=1), 0.0, None)
        left_d = np.clip(d - (plan * (1.0 - loss)).sum(axis=0), 0.0, None)
        if left_s.sum() <= 1e-3 * s.sum() or left_d.sum() <= 1e-3 * d.sum():
            break
        step = _ot_pass(left_s, left_d, loss, cost, reg, reg_m, balance_tol, solver)
        plan += step
        if step.sum() <= 0.01 * max(plan.sum(), 1e-12):
            break
    return make_feasible(plan, s, d, loss)


def _ot_pass(s, d, loss, cost, reg, reg_m, balance_tol, solver) -> np.ndarray:
    """One Sinkhorn solve on the agents that still offer / need, made feasible."""
    from otswarm.ot import sinkhorn, sinkhorn_unbalanced

    g = gross_demand(d, loss)
    keep_s, keep_g = s > 1e-12 * max(s.sum(), 1.0), g > 1e-12 * max(g.sum(), 1.0)
    if not keep_s.any() or not keep_g.any():
        return np.zeros_like(loss)
    scale = max(s.sum(), g.sum())
    a, b = s[keep_s] / scale, g[keep_g] / scale
    m = cost[np.ix_(keep_s, keep_g)]
    if abs(a.sum() - b.sum()) <= balance_tol:
        result = sinkhorn(a / a.sum(), b / b.sum(), m, reg, **solver)
        sub = np.asarray(result.plan) * a.sum()
    else:
        short_side_exact = (reg_m, np.inf) if a.sum() > b.sum() else (np.inf, reg_m)
        result = sinkhorn_unbalanced(a, b, m, reg, short_side_exact, **solver)
        sub = np.asarray(result.plan)
    if not np.all(np.isfinite(sub)):
        log.warning("allocation: Sinkhorn returned non-finite values (reg %.3g); pass skipped", reg)
        return np.zeros_like(loss)
    if not result.converged:
        log.warning(
            "allocation: Sinkhorn did not converge (%d iterations, marginal error %.3g); "
            "using the projected plan",
            result.n_iter,
            result.marginal_error,
        )
    plan = np.zeros_like(loss)
    plan[np.ix_(keep_s, keep_g)] = sub * scale
    return make_feasible(plan, s, d, loss)


def greedy_plan(supply, demand, loss, cost=None) -> np.ndarray:
    """Nearest-first baseline: visit pairs by increasing cost, fill each as far as possible."""
    s, d, loss = _check(supply, demand, loss)
    cost = loss if cost is None else np.asarray(cost, dtype=float)
    left_s, left_d = s.copy(), d.copy()
    plan = np.zeros_like(loss)
    for flat in np.argsort(cost, axis=None, kind="stable"):
        i, j = divmod(int(flat), d.size)
        sent = min(left_s[i], left_d[j] / (1.0 - loss[i, j]))
        if sent > 0:
            plan[i, j] = sent
            left_s[i] -= sent
            left_d[j] -= sent * (1.0 - loss[i, j])
    return plan


def proportional_plan(supply, demand, loss) -> np.ndarray:
    """Proportional sharing baseline: ``P_ij = s_i g_j / max(sum s, sum g)``, made feasible."""
    s, d, loss = _check(supply, demand, loss)
    g = gross_demand(d, loss)
    scale = max(s.sum(), g.sum())
    if scale <= 0:
        return np.zeros_like(loss)
    return make_feasible(np.outer(s, g) / scale, s, d, loss)


def evaluate(plan, supply, demand, loss, cost=None) -> PlanOutcome:
    """Joule figures of a plan (J sent per pair)."""
    _, d, loss = _check(supply, demand, loss)
    p = np.asarray(plan, dtype=float)
    cost = loss if cost is None else np.asarray(cost, dtype=float)
    delivered = (p * (1.0 - loss)).sum(axis=0)
    return PlanOutcome(
        moved_j=float(p.sum()),
        delivered_j=float(delivered.sum()),
        wasted_j=float((p * loss).sum()),
        unmet_j=float(np.clip(d - delivered, 0.0, None).sum()),
        cost=float((p * cost).sum()),
    )
