"""Cost matrices in joules for moving energy between agents.

Moving one joule from supplier ``i`` to consumer ``j`` loses

    L_ij = overhead + loss_i + loss_j + line_loss_per_m * dist_ij
           + bytes_per_joule * (tx_j_per_byte_i + rx_j_per_byte_j)        [J lost / J moved]

(conversion: a fixed overhead plus each agent's own converter loss; resistive
line loss over the distance in metres; and
the radio energy of the bytes that must travel with each joule, e.g. the payload
of an offloaded task, at the boards' J/byte from their profiles). The planning
cost adds a priority term that makes low-priority consumers more expensive to
serve:

    C_ij = L_ij + priority_weight * (1 - priority_j),     priority_j in [0, 1].

``<P, L>`` over a plan ``P`` (J moved) is the energy wasted by the transfers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from otswarm.coordination.errors import PlanError


@dataclass(frozen=True)
class TransferCosts:
    """Energy terms of a transfer; every field is in joules lost per joule moved (J/J)
    except ``line_loss_per_m`` (J/J per metre), ``bytes_per_joule`` (B/J) and the radio
    terms (J/B)."""

    overhead: float = 0.05
    line_loss_per_m: float = 0.002
    bytes_per_joule: float = 2000.0
    tx_j_per_byte: float = 7e-6
    rx_j_per_byte: float = 7e-6
    priority_weight: float = 0.2

    @classmethod
    def from_profile(cls, profile, **overrides) -> TransferCosts:
        """Radio terms from a :class:`otswarm.energy.BoardProfile`, the rest as given."""
        radio = {
            "tx_j_per_byte": profile.radio_tx_j_per_byte,
            "rx_j_per_byte": profile.radio_rx_j_per_byte,
        }
        return cls(**{**radio, **overrides})

    def __post_init__(self):
        for name, value in vars(self).items():
            if not np.isfinite(value) or value < 0:
                raise PlanError(f"TransferCosts.{name} must be finite and >= 0, got {value}")


def distances(positions_a, positions_b) -> np.ndarray:
    """Euclidean distances (m) between two sets of positions, shapes (n, d) and (m, d)."""
    a = np.atleast_2d(np.asarray(positions_a, dtype=float))
    b = np.atleast_2d(np.asarray(positions_b, dtype=float))
    if a.shape[1] != b.shape[1]:
        raise PlanError(f"positions have {a.shape[1]} and {b.shape[1]} coordinates")
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))


def transfer_loss(
    costs: TransferCosts,
    dist_m,
    *,
    supplier_loss=0.0,
    consumer_loss=0.0,
    tx_j_per_byte=None,
    rx_j_per_byte=None,
) -> np.ndarray:
    """``L_ij`` (J lost per J moved) for suppliers x consumers at distances ``dist_m`` (m).

    ``supplier_loss`` / ``consumer_loss``: each agent's own conversion loss (J/J,
    the ``loss_fraction`` of its offer), added to ``overhead``. ``tx_j_per_byte``
    (per supplier) and ``rx_j_per_byte`` (per consumer) override the radio terms of
    ``costs`` with each board's profile. Raises PlanError when a loss reaches 1
    (moving energy there would destroy all of it).
    """
    d = np.asarray(dist_m, dtype=float)
    if d.ndim != 2 or np.any(d < 0) or not np.all(np.isfinite(d)):
        raise PlanError(f"distances must be a finite non-negative matrix, got shape {d.shape}")
    n, m = d.shape

    def column(value, default, size):
        return np.broadcast_to(np.asarray(default if value is None else value, float), (size,))

    tx = column(tx_j_per_byte, costs.tx_j_per_byte, n)
    rx = column(rx_j_per_byte, costs.rx_j_per_byte, m)
    own = column(supplier_loss, 0.0, n)[:, None] + column(consumer_loss, 0.0, m)[None, :]
    loss = (
        costs.overhead
        + own
        + costs.line_loss_per_m * d
        + costs.bytes_per_joule * (tx[:, None] + rx[None, :])
    )
    if np.any(loss >= 1.0) or np.any(loss < 0):
        raise PlanError(
            f"transfer loss spans [{loss.min():.3f}, {loss.max():.3f}] J/J: need [0, 1)"
        )
    return loss


def planning_cost(costs: TransferCosts, loss, priority=None) -> np.ndarray:
    """``C_ij = L_ij + priority_weight * (1 - priority_j)`` (priority 1 when None)."""
    loss = np.asarray(loss, dtype=float)
    if priority is None:
        return loss.copy()
    pr = np.asarray(priority, dtype=float)
    if pr.shape != (loss.shape[1],) or np.any((pr < 0) | (pr > 1)):
        raise PlanError(f"priority must be {loss.shape[1]} values in [0, 1], got {pr}")
    return loss + costs.priority_weight * (1.0 - pr)[None, :]
