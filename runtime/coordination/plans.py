"""Allocation over the wire: energy offers in, one ``AllocationPlan`` out, each part executed.

An agent's offer carries what it can give and what it needs this round; only its
*net* position counts (``supply_j - demand_j``: positive makes it a supplier row,
negative a consumer column), so no agent is asked to send energy to itself.
Distances come from the offers' positions, each side's converter loss from their
``loss_fraction``, priorities (0-255) become ``priority / 255`` in [0, 1].

A plan lists transfers in joules *sent*. Executing it, an agent sends its own row
(``energy_out``); of what is sent to it, ``1 - L_ij`` arrives (``energy_in``), and
it books only transfers whose sender is known to have executed the plan.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from otswarm.coordination.allocation import (
    PlanOutcome,
    evaluate,
    greedy_plan,
    ot_plan,
    proportional_plan,
)
from otswarm.coordination.costs import TransferCosts, distances, planning_cost, transfer_loss
from otswarm.coordination.errors import PlanError
from otswarm.summaries import AllocationPlan, EnergyOffer, Transfer
from otswarm.summaries.messages import MAX_TRANSFERS

log = logging.getLogger(__name__)

METHODS = ("ot", "greedy", "proportional")
MIN_TRANSFER_J = 1e-6


@dataclass(frozen=True)
class OfferBook:
    """The offers of one round as arrays: supplier rows, consumer columns (J, J/J)."""

    suppliers: tuple[str, ...]
    consumers: tuple[str, ...]
    supply_j: np.ndarray
    demand_j: np.ndarray
    loss: np.ndarray
    cost: np.ndarray


def offer_book(offers: Mapping[str, EnergyOffer], costs: TransferCosts) -> OfferBook:
    """Suppliers, consumers and their loss and cost matrices from a round's offers."""
    ids = sorted(offers)
    net = np.array([offers[a].supply_j - offers[a].demand_j for a in ids], dtype=float)
    sup = [a for a, v in zip(ids, net, strict=True) if v > 0]
    con = [a for a, v in zip(ids, net, strict=True) if v < 0]

    def field(agents, name):
        return np.array([getattr(offers[a], name) for a in agents], dtype=float)

    pos_s = field(sup, "position_m").reshape(len(sup), 3)
    pos_c = field(con, "position_m").reshape(len(con), 3)
    loss = transfer_loss(
        costs,
        distances(pos_s, pos_c) if sup and con else np.zeros((len(sup), len(con))),
        supplier_loss=field(sup, "loss_fraction"),
        consumer_loss=field(con, "loss_fraction"),
    )
    cost = planning_cost(costs, loss, field(con, "priority") / 255.0)
    supply, demand = net[net > 0], -net[net < 0]  # same order as sup and con
    return OfferBook(tuple(sup), tuple(con), supply, demand, loss, cost)


def build_plan(
    round: int,
    planner: str,
    offers: Mapping[str, EnergyOffer],
    costs: TransferCosts,
    *,
    method: str = "ot",
    **options,
) -> tuple[AllocationPlan, PlanOutcome]:
    """The plan of ``round`` over ``offers`` (``method``: ot, greedy or proportional).

    ``options`` go to :func:`~otswarm.coordination.allocation.ot_plan` (reg, reg_m, ...).
    Transfers under 1 uJ are left out; past the wire limit only the largest are kept.
    """
    if method not in METHODS:
        raise PlanError(f"allocation method must be one of {METHODS}, got {method!r}")
    book = offer_book(offers, costs)
    s, d, loss, cost = book.supply_j, book.demand_j, book.loss, book.cost
    if s.size == 0 or d.size == 0:
        matrix = np.zeros_like(loss)
    elif method == "ot":
        matrix = ot_plan(s, d, loss, cost, **options)
    elif method == "greedy":
        matrix = greedy_plan(s, d, loss)
    else:
        matrix = proportional_plan(s, d, loss)
    rows, cols = np.nonzero(matrix > MIN_TRANSFER_J)
    order = np.argsort(-matrix[rows, cols], kind="stable")[:MAX_TRANSFERS]
    transfers = tuple(
        Transfer(book.suppliers[rows[k]], book.consumers[cols[k]], float(matrix[rows[k], cols[k]]))
        for k in sorted(order)
    )
    return AllocationPlan(round, planner, transfers), evaluate(matrix, s, d, loss, cost)


@dataclass(frozen=True)
class PlanPart:
    """One side of an agent's part in a plan: joules sent (its row) or its column
    (``joules`` sent to it, ``delivered_j`` of them arriving after losses)."""

    round: int
    planner: str
    joules: float
    delivered_j: float


def row_part(plan: AllocationPlan, me: str, my_offer: EnergyOffer | None) -> PlanPart:
    """What ``me`` sends under ``plan``; raises PlanError when it exceeds its offer."""
    sent = float(sum(t.joules for t in plan.transfers if t.source == me))
    offered = 0.0 if my_offer is None else max(0.0, my_offer.supply_j - my_offer.demand_j)
    if sent > offered * (1 + 1e-4) + 1e-6:  # offers and transfers are float32 on the wire
        raise PlanError(
            f"{me}: plan {plan.planner}/{plan.round} asks {sent:.6g} J, offer was {offered:.6g} J"
        )
    return PlanPart(plan.round, plan.planner, sent, sent)


def column_part(
    plan: AllocationPlan,
    me: str,
    offers: Mapping[str, EnergyOffer],
    costs: TransferCosts,
    senders: set[str],
) -> PlanPart:
    """What reaches ``me`` under ``plan`` from the ``senders`` known to have executed it.

    ``offers`` are the plan round's offers as ``me`` heard them; the loss of a
    transfer whose sender's offer it missed is taken without the distance and
    the sender's converter terms (logged).
    """
    mine = offers.get(me)
    incoming = delivered = 0.0
    for t in plan.transfers:
        if t.target != me or t.source not in senders:
            continue
        src = offers.get(t.source)
        if src is None or mine is None:
            log.debug(
                "%s: no offer of %s in round %d: loss without distance", me, t.source, plan.round
            )
            loss = transfer_loss(costs, np.zeros((1, 1)))[0, 0]
        else:
            loss = transfer_loss(
                costs,
                distances([src.position_m], [mine.position_m]),
                supplier_loss=src.loss_fraction,
                consumer_loss=mine.loss_fraction,
            )[0, 0]
        incoming += t.joules
        delivered += t.joules * (1.0 - loss)
    return PlanPart(plan.round, plan.planner, float(incoming), float(delivered))
