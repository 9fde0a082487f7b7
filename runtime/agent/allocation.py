"""The agent's part in energy allocation: offer, plan when it is the planner, execute once.

A round's allocation is pipelined over three ticks, so every message of a step
has a whole round to arrive before the next step needs it:

- tick of round ``r``: publish this agent's offer for ``r``;
- tick of ``r + 1``: the planner of ``r`` (the smallest id among the offers of
  ``r`` it holds, :func:`runtime.coordination.planner.planner_of`) builds the
  plan over those offers by entropic OT and publishes it (QoS 2);
- tick of ``r + 2``: every agent takes the plan of ``r`` from its
  :class:`~runtime.coordination.planner.PlanGate` (at most once per round, the
  smallest planner id wins) and executes its part through the MCU: it sends its
  row (``energy_out``) and takes in its column minus the transfer losses
  (``energy_in``), booking what the MCU says actually moved.

What an agent offers (J of stored battery energy, ``E = soc * capacity``): the
energy above ``share_above_soc`` as supply, the energy missing below
``ask_below_soc`` as demand, each at most ``transfer_max_w * dt`` where ``dt``
is the MCU-clock time of one round (so a simulated board running faster than
the wall clock moves energy at its own pace).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass

from runtime.summaries import AllocationPlan, EnergyOffer, Envelope, Kind

log = logging.getLogger(__name__)

KEEP_ROUNDS = 8  # offers older than this many rounds are forgotten


@dataclass(frozen=True)
class Executed:
    """What this agent did under the plan of ``round``: joules it sent and received."""

    round: int
    planner: str
    given_j: float
    received_j: float


@dataclass(frozen=True)
class OfferPolicy:
    """How much of its battery an agent offers or asks for (SoC thresholds, W limit)."""

    share_above_soc: float = 0.6
    ask_below_soc: float = 0.4
    transfer_max_w: float = 2.0
    position_m: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def offer(self, reading, round_s: float) -> EnergyOffer:
        """The offer for a board in state ``reading`` over a round of ``round_s`` MCU seconds."""
        capacity = reading.battery_energy_j / reading.battery_soc if reading.battery_soc > 0 else 0
        cap = self.transfer_max_w * max(round_s, 0.0)
        supply = min(max(0.0, reading.battery_soc - self.share_above_soc) * capacity, cap)
        demand = min(max(0.0, self.ask_below_soc - reading.battery_soc) * capacity, cap)
        return EnergyOffer(supply, demand, position_m=self.position_m)


class AllocationParticipant:
    """One agent's allocation rounds over ``link``, executed through ``actuator``."""

    def __init__(self, agent_id, link, actuator, ledger, costs, policy: OfferPolicy) -> None:
        from runtime.coordination.planner import PlanGate

        self.id = agent_id
        self.link = link
        self.actuator = actuator
        self.ledger = ledger
        self.costs = costs
        self.policy = policy
        self.gate = PlanGate(agent_id)
        self._offers: dict[int, dict[str, EnergyOffer]] = defaultdict(dict)
        self._lock = threading.Lock()
        self._last_mcu_s: float | None = None
        link.on(Kind.ENERGY_OFFER, self._on_offer)
        link.on(Kind.ALLOCATION_PLAN, self._on_plan)

    # -- inbound (the link's thread) ------------------------------------------
    def _on_offer(self, envelope: Envelope) -> None:
        with self._lock:
            self._offers[envelope.header.round][envelope.header.agent] = envelope.message

    def _on_plan(self, envelope: Envelope) -> None:
        from runtime.coordination.planner import planner_of

        plan: AllocationPlan = envelope.message
        with self._lock:
            expected = planner_of(self._offers.get(plan.round, {}))
            self.gate.consider(plan, expected)

    # -- the tick -------------------------------------------------------------
    def step(self, round_: int, reading) -> Executed | None:
        """Offer for ``round_``, plan ``round_ - 1`` if this agent is its planner,
        execute the plan of ``round_ - 2``; return what was executed (None: nothing)."""
        if reading is not None:
            self._offer(round_, reading)
        self._plan(round_ - 1)
        return self._execute(round_ - 2)

    def _offer(self, round_: int, reading) -> None:
        round_s = 0.0 if self._last_mcu_s is None else reading.mcu_time_s - self._last_mcu_s
        self._last_mcu_s = reading.mcu_time_s
        offer = self.policy.offer(reading, round_s)
        with self._lock:
            self._offers[round_][self.id] = offer
            for old in [r for r in self._offers if r < round_ - KEEP_ROUNDS]:
                del self._offers[old]
        self.link.publish(offer, round=round_)

    def _plan(self, round_: int) -> None:
        from runtime.coordination.planner import planner_of
        from runtime.coordination.plans import build_plan

        with self._lock:
            offers = dict(self._offers.get(round_, {}))
        if planner_of(offers) != self.id:
            return
        with self.ledger.measure("ot"):
            plan, outcome = build_plan(round_, self.id, offers, self.costs)
        self.link.publish(plan, round=round_)
        with self._lock:
            self.gate.consider(plan, self.id)  # the link does not echo our own messages
        log.info(
            "planned round %d: %d transfers, %.1f J moved",
            round_,
            len(plan.transfers),
            outcome.moved_j,
            extra={"fields": {"event": "plan", "round": round_, "moved_j": outcome.moved_j}},
        )

    def _execute(self, round_: int) -> Executed | None:
        from runtime.coordination.plans import plan_part

        with self._lock:
            plan = self.gate.take(round_)
            offers = dict(self._offers.get(round_, {}))
        if plan is None:
            return None
        part = plan_part(plan, self.id, offers, self.costs)
        given = received = 0.0
        if part.sent_j > 0:
            given = -self.actuator.transfer(-part.sent_j)
            self.ledger.book("energy_out", given)
        if part.delivered_j > 0:
            received = self.actuator.transfer(part.delivered_j)
            self.ledger.book("energy_in", received)
        return Executed(round_, plan.planner, given, received)
