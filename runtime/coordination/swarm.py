"""The coordination of one agent, bound to a :class:`~otswarm.link.SwarmLink`.

The agent loop calls three things (see docs/coordination.md):

- ``align(probs)`` every tick: the policy's action probabilities, aligned;
- ``observe(value)`` every tick: feeds the drift monitor (harvest, observation);
- ``round(r, supply_j, demand_j)`` once per round ``r`` (r increasing).

One call of ``round(r)`` does, in order:

1. execute the allocation plan of round ``r - 2`` if one was accepted: send its
   row; and receive the column of the plan of round ``r - 3`` from the senders
   whose offer of round ``r - 1`` arrived, i.e. who were alive *after* executing
   it (net of losses). Each side goes through ``transfer`` (the board's battery)
   and the ledger books what it *reports* moved (``energy_out``, ``energy_in``),
   which is less than the plan's figure when the battery is empty or full;
2. if this agent is the planner of round ``r - 1`` (smallest id among the
   offers of ``r - 1`` it holds) and ``r - 1`` is a planning round for its
   current re-planning period, build the plan of ``r - 1`` and publish it;
3. move its consensus state toward the barycenter of its own live policy's
   average (the anchor) and the neighbours' states, with the step the drift
   monitor's adaptation rate gives;
4. publish its consensus histogram and its energy offer, stamped ``r``.

So offers of round ``r`` are planned at ``r + 1`` and executed at ``r + 2``: one
round period for the offers to arrive, one for the plan; a dead sender's
transfers are never booked as received.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from otswarm.coordination.alignment import DEFAULT_ANCHOR, PolicyAligner
from otswarm.coordination.costs import TransferCosts
from otswarm.coordination.drift import DriftMonitor, DriftReading
from otswarm.coordination.errors import HistogramError, PlanError
from otswarm.coordination.planner import PlanGate, planner_of
from otswarm.coordination.plans import METHODS, PlanPart, build_plan, column_part, row_part
from otswarm.errors import PROJECT_ERRORS
from otswarm.summaries import AllocationPlan, EnergyOffer, Envelope, Histogram, Kind

log = logging.getLogger(__name__)

TRANSFER_TOLERANCE_J = 1e-3  # float32 joules on the wire and in the MCU's answer


def histogram_message(weights, levels: np.ndarray, support_id: int) -> Histogram:
    """A Histogram message whose bin centres are the (equally spaced) ``levels``."""
    half = 0.5 * (levels[1] - levels[0])
    return Histogram(np.asarray(weights), levels[0] - half, levels[-1] + half, support_id)


@dataclass(frozen=True)
class RoundReport:
    """What one ``round`` call did (figures for the agent's report)."""

    round: int
    state: np.ndarray | None
    step: float
    neighbours_heard: int
    planned: bool
    sent: PlanPart | None
    received: PlanPart | None
    given_j: float = 0.0  # joules the battery gave for ``sent`` (booked energy_out)
    taken_j: float = 0.0  # joules the battery took in for ``received`` (booked energy_in)


class SwarmCoordinator:
    """Alignment, allocation and drift handling of one agent on a started link.

    Args:
        link: the agent's SwarmLink; start it after :meth:`start` (see there).
        levels: the ordered action support (duty levels), equally spaced.
        neighbours: ids whose histograms this agent aligns with (None: everyone).
        costs: energy terms of transfers (see :class:`TransferCosts`).
        position_m, loss_fraction, priority: what this agent's offers say.
        drift: the drift monitor (None: fixed ``step`` and planning every round).
        ledger: an EnergyLedger; books ``ot``, ``energy_out`` and ``energy_in``.
        transfer: moves joules into (+) or out of (-) this board's battery and
            returns the joules that moved (signed, clipped by the battery); the
            ledger books its answer. None: no battery here, the plan's figures
            are taken as moved (simulation, tests).
        step: alignment step when there is no drift monitor.
        anchor: weight ``lam`` of the live policy's average in each consensus
            round (:func:`~otswarm.coordination.alignment.anchored_step`).
        method: allocation method ("ot", "greedy" or "proportional").
        support_id: the support id of the histograms (agents on other ids are ignored).
        max_age: rounds a neighbour's histogram stays usable.
        min_move_per_solve: the planner skips a round whose movable energy
            (``min(sum supply, sum demand)``, J) is under this many times the
            energy a plan costs to compute (the least of the last 8 ``ot`` spans
            the ledger measured, once there are two, so a kernel compile or a
            hiccup does not count); without a ledger it always plans.
    """

    def __init__(
        self,
        link,
        levels: Sequence[float],
        *,
        neighbours: Sequence[str] | None = None,
        costs: TransferCosts | None = None,
        position_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
        loss_fraction: float = 0.0,
        priority: int = 128,
        drift: DriftMonitor | None = None,
        ledger=None,
        step: float = 0.5,
        anchor: float = DEFAULT_ANCHOR,
        method: str = "ot",
        support_id: int = 0,
        max_age: int = 2,
        min_move_per_solve: float = 10.0,
        transfer: Callable[[float], float] | None = None,
    ):
        self.link = link
        self.me = link.agent
        self.aligner = PolicyAligner(levels, step=step, anchor=anchor)
        self.levels = self.aligner.support
        if not np.allclose(np.diff(self.levels), self.levels[1] - self.levels[0]):
            raise HistogramError(f"levels must be equally spaced for the wire: {levels}")
        self.neighbours = None if neighbours is None else set(neighbours)
        self.costs = costs or TransferCosts()
        self.position_m = position_m
        self.loss_fraction = loss_fraction
        self.priority = priority
        self.drift = drift
        self.ledger = ledger
        if method not in METHODS:
            raise PlanError(f"allocation method must be one of {METHODS}, got {method!r}")
        self.method = method
        self.support_id = support_id
        self.max_age = max_age
        self.min_move_per_solve = min_move_per_solve
        self.transfer = transfer
        self._solves: deque[float] = deque(maxlen=8)  # J of recent plans (ledger spans)
        self.gate = PlanGate(self.me)
        self._lock = threading.Lock()
        self._histograms: dict[str, tuple[int, np.ndarray]] = {}
        self._offers: dict[int, dict[str, EnergyOffer]] = {}
        self._executed: dict[int, AllocationPlan] = {}
        self._subscribed: set[str] = set()
        self._round: int | None = None
        self._started = False

    def set_neighbours(self, neighbours: Sequence[str] | None) -> None:
        """Align with these agents from now on (None: everyone), e.g. after re-clustering
        (``Clustering.neighbours``). Histograms from others are ignored."""
        with self._lock:
            old = self.neighbours
            self.neighbours = None if neighbours is None else set(neighbours)
            self._histograms = {a: h for a, h in self._histograms.items() if self._wanted(a)}
        if self._started and old is not None:
            if self.neighbours is None:
                self.link.on(Kind.HISTOGRAM, self._on_histogram)
            else:
                for agent in sorted(self.neighbours - old - self._subscribed):
                    self._subscribe(agent)

    def _wanted(self, agent: str) -> bool:
        return self.neighbours is None or agent in self.neighbours

    def _subscribe(self, agent: str) -> None:
        self._subscribed.add(agent)
        self.link.on(Kind.HISTOGRAM, self._on_histogram, sender=agent)

    def start(self) -> SwarmCoordinator:
        """Register the handlers on the link. Call it before ``link.start()``: the link
        then subscribes to everything at once and, over MQTT, returns when the broker
        has the subscriptions; after start, subscribing is asynchronous and the first
        messages of the others may be missed (harmless: one round without them)."""
        if self._started:
            return self
        if self.neighbours is None:
            self.link.on(Kind.HISTOGRAM, self._on_histogram)
        else:
            for agent in sorted(self.neighbours):
                self._subscribe(agent)
        self.link.on(Kind.ENERGY_OFFER, self._on_offer)
        self.link.on(Kind.ALLOCATION_PLAN, self._on_plan)
        self._started = True
        return self

    # -- every tick -------------------------------------------------------------------
    def align(self, probs) -> np.ndarray:
        """Aligned action probabilities for this tick (the policy's own before round 1)."""
        return self.aligner.apply(probs)

    def observe(self, value) -> DriftReading | None:
        """Feed the drift monitor; on a stale-policy event, consensus restarts from the
        policy's own average (``PolicyAligner.reanchor``)."""
        if self.drift is None:
            return None
        reading = self.drift.observe(value)
        if reading is not None and reading.stale:
            self.aligner.reanchor()
        return reading

    @property
    def step(self) -> float:
        """Alignment step: the adaptation rate when a drift monitor is attached."""
        return self.aligner.step if self.drift is None else self.drift.adaptation.alignment_step

    @property
    def replan_period(self) -> int:
        """Rounds between the plans this agent makes when it is the planner."""
        return 1 if self.drift is None else self.drift.adaptation.replan_period

    def view(self, r: int) -> set[str]:
        """Round ``r``'s membership view: the agents whose offer of ``r`` this agent holds."""
        with self._lock:
            return set(self._offers.get(r, {}))

    def peer_states(self) -> list[np.ndarray]:
        """The neighbours' consensus states usable at the current round (as ``round`` used)."""
        with self._lock:
            r = self._round
            return [
                h
                for rnd, h in self._histograms.values()
                if r is not None and abs(r - rnd) <= self.max_age
            ]

    def plan_waiting(self, r: int) -> str | None:
        """Planner of the plan this agent would execute for round ``r`` (None: none yet)."""
        with self._lock:
            plan = self.gate.candidate(r)
        return None if plan is None else plan.planner

    # -- once per round ---------------------------------------------------------------
    def round(self, r: int, supply_j: float, demand_j: float) -> RoundReport:
        """Execute, plan, align and publish for round ``r`` (see the module doc)."""
        received = self._receive(r - 3, evidence_round=r - 1)
        taken_j = self._move("energy_in", received.delivered_j) if received else 0.0
        sent = self._send(r - 2)
        given_j = -self._move("energy_out", -sent.joules) if sent else 0.0
        planned = self._plan(r - 1)
        with self._lock:
            self._round = r
            fresh = [h for rnd, h in self._histograms.values() if abs(r - rnd) <= self.max_age]
        state = None
        if self.aligner.reference is not None:
            with self._measure("ot"):
                state = self.aligner.consensus_round(fresh, step=self.step)
            self.link.publish(histogram_message(state, self.levels, self.support_id), round=r)
        offer = EnergyOffer(supply_j, demand_j, self.position_m, self.loss_fraction, self.priority)
        with self._lock:
            self._offers.setdefault(r, {})[self.me] = offer
            for old in [k for k in self._offers if k < r - 4]:
                del self._offers[old]
        self.link.publish(offer, round=r)
        return RoundReport(
            r, state, self.step, len(fresh), planned, sent, received, given_j, taken_j
        )

    def _send(self, r: int) -> PlanPart | None:
        with self._lock:
            plan = self.gate.take(r)
            my_offer = self._offers.get(r, {}).get(self.me)
        if plan is None:
            return None
        try:
            part = row_part(plan, self.me, my_offer)
        except PlanError as exc:
            log.warning("%s: plan refused: %s", self.me, exc)
            return None
        self._executed[r] = plan
        return part

    def _receive(self, r: int, evidence_round: int) -> PlanPart | None:
        plan = self._executed.pop(r, None)
        for old in [k for k in self._executed if k < r]:
            del self._executed[old]
        if plan is None:
            return None
        with self._lock:
            offers = dict(self._offers.get(r, {}))
            senders = set(self._offers.get(evidence_round, {}))
        return column_part(plan, self.me, offers, self.costs, senders)

    def _move(self, component: str, joules: float) -> float:
        """Move ``joules`` (+ in, - out) through ``transfer``, book ``|moved|`` as
        ``component`` and return the signed joules moved.

        A battery that is empty (sending) or full (receiving) moves less than the
        plan says: the shortfall is logged with both figures and not booked. On the
        receiving side the joules the battery could not take are lost (the sender
        gave them); nothing else books them. A transfer the hardware refuses (a
        typed error) moves nothing.
        """
        if joules == 0.0:
            return 0.0
        moved = joules if self.transfer is None else self._transfer(component, joules)
        if self.ledger is not None and moved != 0.0:
            self.ledger.book(component, abs(moved))
        return moved

    def _transfer(self, component: str, joules: float) -> float:
        try:
            moved = float(self.transfer(joules))
        except PROJECT_ERRORS as exc:
            log.warning("%s: %s of %.3f J failed, nothing moved: %s", self.me, component,
                        joules, exc)  # fmt: skip
            return 0.0
        if abs(moved - joules) > TRANSFER_TOLERANCE_J:
            why = "battery empty" if joules < 0 else "battery full: the rest is lost"
            fields = {"event": "transfer_short", "component": component,
                      "planned_j": joules, "moved_j": moved}  # fmt: skip
            log.warning("%s: %s: moved %.3f J of the plan's %.3f J (%s)", self.me, component,
                        moved, joules, why, extra={"fields": fields})  # fmt: skip
        return moved

    def _plan(self, r: int) -> bool:
        with self._lock:
            offers = dict(self._offers.get(r, {}))
        if planner_of(offers) != self.me or r % self.replan_period:
            return False
        net = np.array([o.supply_j - o.demand_j for o in offers.values()])
        movable_j = min(net[net > 0].sum(), -net[net < 0].sum())
        solve_j = min(self._solves) if len(self._solves) >= 2 else 0.0  # 1st may compile
        if movable_j < self.min_move_per_solve * solve_j:
            log.debug("%s: round %d: %.3g J movable, not worth a %.3g J solve", self.me, r,
                      movable_j, solve_j)  # fmt: skip
            return False
        try:
            with self._measure("ot") as span:
                plan, outcome = build_plan(r, self.me, offers, self.costs, method=self.method)
            if span is not None:
                self._solves.append(span.joules)
            self.link.publish(plan, round=r)
        except PROJECT_ERRORS as exc:  # bad offers, solver input, or a plan the wire refuses
            log.warning("%s: no plan for round %d: %s", self.me, r, exc)
            return False
        log.debug("%s: plan %d: %s", self.me, r, outcome)
        with self._lock:  # only a published plan is executed, by the planner too
            self.gate.consider(plan, expected_planner=self.me)
        return True

    def _measure(self, component: str):
        return self.ledger.measure(component) if self.ledger is not None else nullcontext()

    # -- handlers (transport thread) ---------------------------------------------------
    def _on_histogram(self, envelope: Envelope) -> None:
        msg = envelope.message
        if msg.support_id != self.support_id:
            return
        if msg.weights.size != self.levels.size:
            log.debug("%s: histogram of %s has %d bins, expected %d: ignored", self.me,
                      envelope.header.agent, msg.weights.size, self.levels.size)  # fmt: skip
            return
        with self._lock:
            if self._wanted(envelope.header.agent):
                self._histograms[envelope.header.agent] = (envelope.header.round, msg.weights)

    def _on_offer(self, envelope: Envelope) -> None:
        r = envelope.header.round
        with self._lock:
            if self._round is not None and not self._round - 4 <= r <= self._round + 2:
                return  # far from our rounds: stale, or a peer with a broken clock
            self._offers.setdefault(r, {})[envelope.header.agent] = envelope.message

    def _on_plan(self, envelope: Envelope) -> None:
        plan: AllocationPlan = envelope.message
        with self._lock:
            view = set(self._offers.get(plan.round, {}))
            if self.me in view:  # only plans of rounds this agent offered in
                self.gate.consider(plan, expected_planner=planner_of(view))
