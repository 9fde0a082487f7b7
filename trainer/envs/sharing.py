"""Energy sharing between agents as an unbalanced optimal transport problem.

Agents with a surplus (battery above ``give_above`` of capacity) offer energy,
agents in deficit (below ``need_below``) ask for it. The plan ``P[i, j]`` (Wh sent
from ``i`` to ``j``) solves the entropic unbalanced problem (Chizat et al. 2018,
"Scaling algorithms for unbalanced optimal transport problems")

    min_P  <P, M> + reg * sum_ij P_ij (log P_ij - 1) + reg_m * (KL(P 1 | a) + KL(P^T 1 | b))

with ``M[i, j] = 1 - eta[i, j]`` the fraction of energy lost on the line from
``i`` to ``j``. The plan is then clipped so nobody sends more than it offers or
receives more than it asked for; ``j`` receives ``sum_i P[i, j] * eta[i, j]``.

The solver is the batched NumPy scaling iteration below: the environment steps
many swarms at once, one small problem each. It is the problem the boards solve
with ``otswarm.ot.sinkhorn_unbalanced(..., reg_type="entropy")`` (POT's
convention); the tests check the plans agree with it and with POT to 1e-8.
"""

from __future__ import annotations

import numpy as np

_NO_LINE = 1e3  # cost of sending energy to oneself: never done


def unbalanced_plans(
    a: np.ndarray, b: np.ndarray, M: np.ndarray, reg: float, reg_m: float, n_iter: int = 200
) -> np.ndarray:
    """Batched scaling iterations: ``a``, ``b`` (B, N) masses, ``M`` (N, N) -> plans (B, N, N).

    ``u = (a / K v)^f``, ``v = (b / K^T u)^f`` with ``K = exp(-M / reg)`` and
    ``f = reg_m / (reg_m + reg)``; the plan is ``diag(u) K diag(v)``.
    """
    K = np.exp(-M / reg)
    f = reg_m / (reg_m + reg)
    u = np.ones_like(a)
    v = np.ones_like(b)
    for _ in range(n_iter):
        u = (a / np.maximum(v @ K.T, 1e-300)) ** f
        v = (b / np.maximum(u @ K, 1e-300)) ** f
    return u[:, :, None] * K[None] * v[:, None, :]


def share_energy(
    supply_wh: np.ndarray,
    demand_wh: np.ndarray,
    efficiency: np.ndarray,
    reg: float = 0.05,
    reg_m: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Execute one sharing round for a batch of swarms.

    ``supply_wh``, ``demand_wh``: (B, N) energy offered / asked [Wh];
    ``efficiency``: (N, N) line efficiency ``eta`` in (0, 1].
    Returns ``(sent_wh, received_wh)``, both (B, N), with ``sent <= supply`` and
    ``received <= demand`` element-wise and ``sum received <= sum sent``.
    """
    scale = np.maximum(supply_wh.max(axis=1), demand_wh.max(axis=1))[:, None]  # (B, 1)
    active = scale[:, 0] > 0.0
    plans = np.zeros((*supply_wh.shape, supply_wh.shape[1]))
    if not active.any():
        return plans.sum(axis=2), plans.sum(axis=1)
    cost = 1.0 - efficiency
    np.fill_diagonal(cost, _NO_LINE)
    a, b, s = supply_wh[active], demand_wh[active], scale[active]
    plans[active] = unbalanced_plans(a / s, b / s, cost, reg, reg_m) * s[:, :, None]
    rows = plans.sum(axis=2)
    plans *= np.minimum(1.0, supply_wh / np.maximum(rows, 1e-12))[:, :, None]
    delivered = plans * efficiency[None]
    cols = delivered.sum(axis=1)
    plans *= np.minimum(1.0, demand_wh / np.maximum(cols, 1e-12))[:, None, :]
    return plans.sum(axis=2), (plans * efficiency[None]).sum(axis=1)
