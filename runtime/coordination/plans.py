"""Allocation over the wire: energy offers in, one ``AllocationPlan`` out, each part executed.

An agent's offer carries what it can give and what it needs this round; only its
*net* position counts (``supply_j - demand_j``: positive makes it a supplier row,
negative a consumer column), so no agent is asked to send energy to itself.
Distances come from the offers' positions, each side's converter loss from their
``loss_fraction``, priorities (0-255) become ``priority / 255`` in [0, 1].

A plan lists transfers in joules *sent*. Before executing one, an agent checks
it against the round's offers (:func:`check_plan`). Executing it, an agent
sends its own row (:func:`row_of`) and reports what its battery gave
(:func:`sent_report`); of what a supplier reports it sent to it, ``1 - L_ij``
arrives, and the agent takes in that, never more than the plan asked of the
supplier, and in all at most its own deficit (:func:`column_of`).
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
from otswarm.summaries import AllocationPlan, EnergyOffer, Transfer, TransferReport
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


OFFER_TOLERANCE = 1e-4  # offers and transfers are float32 on the wire: relative slack
OFFER_SLACK_J = 1e-6  # and absolute slack, J


def pair_loss(costs: TransferCosts, source: EnergyOffer, target: EnergyOffer) -> float:
    """``L_ij`` of one transfer (J lost per J sent) from the two agents' offers."""
    return float(
        transfer_loss(
            costs,
            distances([source.position_m], [target.position_m]),
            supplier_loss=source.loss_fraction,
            consumer_loss=target.loss_fraction,
        )[0, 0]
    )


def _over(amount: float, bound: float) -> bool:
    return amount > bound * (1 + OFFER_TOLERANCE) + OFFER_SLACK_J


def check_plan(
    plan: AllocationPlan, offers: Mapping[str, EnergyOffer], costs: TransferCosts
) -> None:
    """Raise PlanError unless ``plan`` only moves energy between agents that offered in
    its round (``offers``: the round's offers as this agent holds them), each source
    sending at most its net surplus ``supply_j - demand_j`` and each target receiving,
    after losses, at most its net deficit ``demand_j - supply_j``."""
    sent: dict[str, float] = {}
    arriving: dict[str, float] = {}
    for t in plan.transfers:
        for agent in (t.source, t.target):
            if agent not in offers:
                raise PlanError(f"plan {plan.planner}/{plan.round} moves energy of {agent!r}, "
                                "which made no offer in that round")  # fmt: skip
        sent[t.source] = sent.get(t.source, 0.0) + t.joules
        loss = pair_loss(costs, offers[t.source], offers[t.target])
        arriving[t.target] = arriving.get(t.target, 0.0) + t.joules * (1.0 - loss)
    for agent, joules in sent.items():
        surplus = max(0.0, offers[agent].supply_j - offers[agent].demand_j)
        if _over(joules, surplus):
            raise PlanError(f"plan {plan.planner}/{plan.round} asks {agent} for {joules:.6g} J, "
                            f"its offer was {surplus:.6g} J")  # fmt: skip
    for agent, joules in arriving.items():
        deficit = max(0.0, offers[agent].demand_j - offers[agent].supply_j)
        if _over(joules, deficit):
            raise PlanError(f"plan {plan.planner}/{plan.round} delivers {joules:.6g} J to "
                            f"{agent}, which asked for {deficit:.6g} J")  # fmt: skip


@dataclass(frozen=True)
class Send:
    """This agent's row of an executed plan: joules to send, per target and in all."""

    round: int
    planner: str
    targets: Mapping[str, float]

    @property
    def joules(self) -> float:
        return float(sum(self.targets.values()))


def row_of(plan: AllocationPlan, me: str) -> Send:
    """What ``me`` sends under ``plan`` (``plan`` already passed :func:`check_plan`)."""
    targets: dict[str, float] = {}
    for t in plan.transfers:
        if t.source == me:
            targets[t.target] = targets.get(t.target, 0.0) + t.joules
    return Send(plan.round, plan.planner, targets)


def sent_report(send: Send, me: str, moved_j: float) -> TransferReport:
    """The report of what ``me`` actually sent: its battery gave ``moved_j`` of the
    row's ``send.joules``, shared over the targets in the row's proportions."""
    share = 0.0 if send.joules <= 0 else min(1.0, max(0.0, moved_j) / send.joules)
    return TransferReport(send.round, send.planner,
                          tuple(Transfer(me, target, j * share)
                                for target, j in sorted(send.targets.items())))  # fmt: skip


@dataclass(frozen=True)
class Receive:
    """What reaches this agent under an executed plan, by its suppliers' reports:
    ``sent_j`` reported sent to it, ``delivered_j`` of them arriving after losses
    (bounded by its deficit), and ``planned_j`` the plan's figure after losses."""

    round: int
    planner: str
    sent_j: float
    delivered_j: float
    planned_j: float


def column_of(
    plan: AllocationPlan,
    me: str,
    offers: Mapping[str, EnergyOffer],
    costs: TransferCosts,
    reports: Mapping[str, TransferReport],
) -> Receive:
    """What ``me`` takes in under ``plan`` (``plan`` passed :func:`check_plan` over
    ``offers``): from each source, the joules its report (``reports`` by source)
    says it sent to ``me``, never more than the plan asked of it, times ``1 - L_ij``;
    in all at most ``me``'s deficit. A source without a report sent nothing."""
    asked: dict[str, float] = {}
    for t in plan.transfers:
        if t.target == me:
            asked[t.source] = asked.get(t.source, 0.0) + t.joules
    planned = sent = delivered = 0.0
    for source, joules in asked.items():
        keep = 1.0 - pair_loss(costs, offers[source], offers[me])
        planned += joules * keep
        report = reports.get(source)
        said = (
            0.0
            if report is None
            else sum(x.joules for x in report.transfers if x.source == source and x.target == me)
        )
        sent += min(said, joules)
        delivered += min(said, joules) * keep
    deficit = max(0.0, offers[me].demand_j - offers[me].supply_j)
    return Receive(plan.round, plan.planner, sent, min(delivered, deficit), planned)
