"""The allocation round of one agent: offers in, what to move out, evidence booked.

:class:`AllocationRound` is bound to the agent's :class:`~otswarm.link.SwarmLink`.
It decides, it does not move energy: each round ``r``

- :meth:`decide` returns an :class:`Allocation`: this agent's row of the plan of
  round ``r - 2`` (joules to send, per target), its column of the plan of round
  ``r - 3`` (joules to take in, as the suppliers *reported* they sent, bounded by
  its own deficit), and, when this agent plans round ``r - 1``
  (:func:`~otswarm.coordination.planner.plans_round`), the plan to publish (an
  empty one when the round is not worth a solve, so the planner is heard);
- the agent moves the energy through its MCU (``act``) and calls
  :meth:`publish` with what the MCU says it gave: the plan, this round's offer
  and a :class:`~otswarm.summaries.TransferReport` of what it sent go out; the
  agent books the joules (``book``).

So offers of round ``r`` are planned at ``r + 1``, sent at ``r + 2`` (each
supplier then reports what its battery gave) and taken in at ``r + 3``.

What is refused, logged (naming the sender and the reason; once per sender,
reason and round) and counted in :attr:`refused`: an offer from an agent that
is not a live member, i.e. whose last ``state`` did not say online or that the
link no longer hears (so no energy goes to or from it); a plan
not sent by the planner it names; a plan moving energy of an agent that made no
offer in the round, or more than an offer's surplus or deficit
(:func:`~otswarm.coordination.plans.check_plan`); the plans of larger planners
than the one executed, which is the smallest within the offers
(:mod:`otswarm.coordination.planner`); a report from an agent that had nothing
to send under the executed plan.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from otswarm.coordination.costs import TransferCosts
from otswarm.coordination.errors import PlanError
from otswarm.coordination.planner import PlanGate, plans_round
from otswarm.coordination.plans import (
    METHODS,
    Receive,
    Send,
    build_plan,
    check_plan,
    column_of,
    row_of,
    sent_report,
)
from otswarm.errors import PROJECT_ERRORS
from otswarm.summaries import AllocationPlan, EnergyOffer, Envelope, Kind, TransferReport

log = logging.getLogger(__name__)

ROUTINE_REFUSALS = {"not the smallest planner"}  # sent by honest agents too: logged as info
OFFER_ROUNDS_KEPT = 4  # offers of rounds r-3..r are what a round needs (plans of r-3)


@dataclass(frozen=True)
class Allocation:
    """What one allocation round decided: ``executed`` is the plan of round ``r - 2``
    it accepted (None: none), ``send`` this agent's row of it (None: nothing to
    send), ``receive`` what to take in (None: nothing), ``plan`` the plan to
    publish (None: this agent does not plan the round; no transfers: the solve
    was skipped), and the round's ``offer``."""

    round: int
    offer: EnergyOffer
    executed: AllocationPlan | None = None
    send: Send | None = None
    receive: Receive | None = None
    plan: AllocationPlan | None = None


class AllocationRound:
    """Energy allocation of one agent on ``link`` (see the module doc).

    Args:
        link: the agent's SwarmLink; call :meth:`start` before ``link.start()``.
        costs: energy terms of transfers (see :class:`TransferCosts`).
        position_m, loss_fraction, priority: what this agent's offers say.
        method: allocation method ("ot", "greedy" or "proportional").
        min_move_per_solve: the planner skips a round whose movable energy
            (``min(sum supply, sum demand)``, J) is under this many times the
            energy a plan costs to compute (the least of the last 8 measured
            solves, once there are two, so a kernel compile does not count).
        measure: ``measure("ot")`` is a context manager yielding a span whose
            ``joules`` it fills (``EnergyLedger.measure``); None: solves are
            not measured and the planner always plans.
    """

    def __init__(
        self,
        link,
        *,
        costs: TransferCosts | None = None,
        position_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
        loss_fraction: float = 0.0,
        priority: int = 128,
        method: str = "ot",
        min_move_per_solve: float = 10.0,
        measure: Callable | None = None,
    ):
        if method not in METHODS:
            raise PlanError(f"allocation method must be one of {METHODS}, got {method!r}")
        self.link = link
        self.me = link.agent
        self.costs = costs or TransferCosts()
        self.position_m = position_m
        self.loss_fraction = loss_fraction
        self.priority = priority
        self.method = method
        self.min_move_per_solve = min_move_per_solve
        self.measure = measure
        self.refused: Counter[str] = Counter()  # refusals by reason, since the start
        self.gate = PlanGate(self.me, self._refuse)
        self.solves = 0  # plans this agent solved (not the skipped ones), since the start
        self._lock = threading.RLock()  # the gate calls _refuse under it
        self._solves: deque[float] = deque(maxlen=8)  # J of recent plans (measured)
        self._offers: dict[int, dict[str, EnergyOffer]] = {}
        self._executed: dict[int, AllocationPlan] = {}  # plans taken, by round
        self._reports: dict[int, dict[str, TransferReport]] = {}  # by plan round, source
        self._logged: set[tuple[str, str]] = set()  # (sender, reason) logged this round
        self._online: set[str] = set()  # agents whose last state said online
        self._round: int | None = None
        self._first: int | None = None  # the first round this agent planned or not
        self._started = False

    def start(self) -> AllocationRound:
        """Register the handlers on the link (before ``link.start()``, so the link
        subscribes to everything at once)."""
        if not self._started:
            self.link.on(Kind.ENERGY_OFFER, self._on_offer)
            self.link.on(Kind.ALLOCATION_PLAN, self._on_plan)
            self.link.on(Kind.TRANSFER_REPORT, self._on_report)
            self.link.on(Kind.STATE, self._on_state)
            self._started = True
        return self

    # -- views -------------------------------------------------------------------------
    def offers(self, r: int) -> dict[str, EnergyOffer]:
        """Round ``r``'s offers by agent, this agent's own included once published (what
        the members said, e.g. the positions the agent groups the swarm by)."""
        with self._lock:
            return dict(self._offers.get(r, {}))

    def view(self, r: int) -> set[str]:
        """Round ``r``'s membership view: the live members whose offer of ``r`` it holds."""
        return set(self.offers(r))

    def holds_plan(self, r: int, planner: str) -> bool:
        """True when ``planner``'s plan for round ``r`` waits to be taken (or ``r`` was
        taken already)."""
        with self._lock:
            return self.gate.closed(r) or self.gate.holds(r, planner)

    # -- once per round ------------------------------------------------------------------
    def decide(
        self, r: int, supply_j: float, demand_j: float, replan_period: int = 1
    ) -> Allocation:
        """What to move and publish in round ``r`` (see the module doc)."""
        known = set(self.link.members())
        with self._lock:
            self._round = r
            self._logged.clear()
            self._online &= known  # as bounded as the link's membership table
            self.gate.forget(known)
        offer = EnergyOffer(supply_j, demand_j, self.position_m, self.loss_fraction, self.priority)
        executed = self._take(r - 2)
        send = None if executed is None else row_of(executed, self.me)
        return Allocation(
            r,
            offer,
            executed,
            send if send is not None and send.targets else None,
            self._receive(r - 3),
            self._plan(r - 1, replan_period),
        )

    def publish(self, allocation: Allocation, given_j: float) -> None:
        """Publish the round's plan (if any), offer and report of what was sent
        (``given_j``: the joules the battery gave for ``allocation.send``)."""
        r = allocation.round
        if allocation.plan is not None:
            self.link.publish(allocation.plan, round=r)
            with self._lock:  # only a published plan is executed, by the planner too
                self.gate.consider(allocation.plan, self.me)
        with self._lock:
            self._offers.setdefault(r, {})[self.me] = allocation.offer
            for old in [k for k in self._offers if k <= r - OFFER_ROUNDS_KEPT]:
                del self._offers[old]
        self.link.publish(allocation.offer, round=r)
        if allocation.send is not None:
            self.link.publish(sent_report(allocation.send, self.me, given_j), round=r)

    def _take(self, r: int) -> AllocationPlan | None:
        """The plan of round ``r`` to execute: the smallest planner's within the offers."""
        with self._lock:
            offers = dict(self._offers.get(r, {}))

            def within(plan: AllocationPlan) -> bool:
                try:
                    check_plan(plan, offers, self.costs)
                except PlanError as exc:
                    self._refuse(plan.planner, "plan exceeds the offers", str(exc))
                    return False
                return True

            plan = self.gate.take(r, within)
        if plan is not None:
            self._executed[r] = plan
        return plan

    def _receive(self, r: int) -> Receive | None:
        plan = self._executed.pop(r, None)
        for old in [k for k in self._executed if k < r]:
            del self._executed[old]
        with self._lock:
            reports = self._reports.pop(r, {})
            for old in [k for k in self._reports if k < r]:
                del self._reports[old]
            offers = dict(self._offers.get(r, {}))
        if plan is None or self.me not in offers:
            return None
        usable = {}
        for source, report in reports.items():
            if report.planner == plan.planner:
                usable[source] = report
            else:
                self._refuse(source, "report of another plan",
                             f"round {r}: reports {report.planner}'s plan, "
                             f"{plan.planner}'s was executed")  # fmt: skip
        received = column_of(plan, self.me, offers, self.costs, usable)
        return received if received.planned_j > 0 else None

    def _plan(self, r: int, replan_period: int) -> AllocationPlan | None:
        with self._lock:
            offers = dict(self._offers.get(r, {}))
            if self._first is None:
                self._first = r
            if not plans_round(self.me, offers, r, self.gate.last_run, self._first):
                return None
        skip = AllocationPlan(r, self.me)  # the answer of a round not solved
        if r % max(1, replan_period):
            return skip
        net = np.array([o.supply_j - o.demand_j for o in offers.values()])
        movable_j = min(net[net > 0].sum(), -net[net < 0].sum())
        solve_j = min(self._solves) if len(self._solves) >= 2 else 0.0  # 1st may compile
        if movable_j < self.min_move_per_solve * solve_j:
            log.debug("%s: round %d: %.3g J movable, not worth a %.3g J solve", self.me, r,
                      movable_j, solve_j)  # fmt: skip
            return skip
        try:
            with self.measure("ot") if self.measure else nullcontext() as span:
                plan, outcome = build_plan(r, self.me, offers, self.costs, method=self.method)
        except PROJECT_ERRORS as exc:  # bad offers or solver input
            log.warning("%s: no plan for round %d: %s", self.me, r, exc)
            return skip
        self.solves += 1
        if span is not None:
            self._solves.append(span.joules)
        log.debug("%s: plan %d: %s", self.me, r, outcome)
        return plan

    def _refuse(self, sender: str, reason: str, detail: str) -> None:
        """Count a refusal; log it once per sender, reason and round."""
        with self._lock:
            self.refused[reason] += 1
            if (sender, reason) in self._logged:
                return
            self._logged.add((sender, reason))
        fields = {"event": "refused", "sender": sender, "reason": reason}
        level = logging.INFO if reason in ROUTINE_REFUSALS else logging.WARNING
        log.log(level, "%s: refused from %s: %s (%s)", self.me, sender, reason, detail,
                    extra={"fields": fields})  # fmt: skip

    # -- handlers (transport thread) -----------------------------------------------------
    def _in_window(self, r: int) -> bool:
        """Rounds near ours only: older ones are stale, far newer ones a broken clock."""
        return self._round is None or self._round - OFFER_ROUNDS_KEPT < r <= self._round + 2

    def _on_state(self, envelope: Envelope) -> None:
        with self._lock:
            if envelope.message.online:
                self._online.add(envelope.header.agent)
            else:
                self._online.discard(envelope.header.agent)

    def _is_member(self, agent: str) -> bool:
        """Announced itself online (a ``state`` message) and still alive for the link."""
        with self._lock:
            announced = agent in self._online
        return announced and self.link.is_alive(agent)

    def _on_offer(self, envelope: Envelope) -> None:
        sender, r = envelope.header.agent, envelope.header.round
        if not self._is_member(sender):
            self._refuse(sender, "offer from a non-member", f"round {r}: not a live member")
            return
        with self._lock:
            if self._in_window(r):
                self._offers.setdefault(r, {})[sender] = envelope.message

    def _both_offered(self, sender: str, r: int, refusal: str) -> bool:
        """True when this agent and ``sender`` both offered in round ``r``, so at most
        one plan or report per offerer is kept (the caller holds the lock). A round this
        agent took no part in (e.g. it just joined) is ignored; a sender outside the
        round is refused with ``refusal``."""
        view = self._offers.get(r, {})
        if self.me not in view:
            return False
        if sender not in view:
            self._refuse(sender, refusal, f"round {r}")
            return False
        return True

    def _on_plan(self, envelope: Envelope) -> None:
        plan: AllocationPlan = envelope.message
        sender = envelope.header.agent
        with self._lock:
            if self._both_offered(sender, plan.round, "plan from an agent without an offer"):
                self.gate.consider(plan, sender)

    def _on_report(self, envelope: Envelope) -> None:
        report: TransferReport = envelope.message
        sender = envelope.header.agent
        with self._lock:
            if not self._both_offered(sender, report.round, "report without an offer"):
                return
            if any(t.source != sender for t in report.transfers):
                self._refuse(sender, "report for another source", f"round {report.round}")
                return
            self._reports.setdefault(report.round, {}).setdefault(sender, report)
