"""The agent loop: one tick per round — sense, decide, act, publish, coordinate, book.

Data flows one way through a tick (Unix time ``t``, round ``k``):

1. **sense**: the MCU's telemetry (battery SoC, harvest W, load W, duty);
   **rollout** (:class:`otswarm.rollout.adopter.PolicyRollout`): a rollout received
   since the last tick is checked and, when it passes, its policy decides from
   this tick on (after the decision it is watched, and rolled back when it fails);
2. **decide**: the policy's action distribution ``pi`` over duty levels; alignment
   pushes it through the OT map onto the swarm consensus, ``pi' = pi K``; the
   duty is drawn from ``pi'`` (seeded). Battery safety: below
   ``bypass_below_soc`` the duty is drawn from ``pi`` itself (alignment never
   drains a board's battery against its own policy); ``pi`` still feeds the
   aligner's average, so the board's anchor stays current. With ``align`` off
   (``[coordination].alignment = false``, the default) the duty is always drawn
   from ``pi``; the consensus still runs and is published (the swarm's view);
3. **act**: the duty goes to the MCU through the bridge;
4. **coordinate** (:class:`otswarm.coordination.swarm.SwarmCoordinator`): the
   drift monitor is fed with the harvest; the round ``k`` moves the consensus
   state toward the peers' barycenter (step = the drift monitor's adaptation
   rate) and publishes it with this agent's energy offer; the planner of a round
   (one per round) publishes its plan; this agent's part of an accepted plan is
   executed through the MCU's energy transfer (its row sent, its column taken in),
   and what the MCU reports it moved is what is booked and recorded;
   past ``cluster_size`` members the agent aligns within its OT-balanced group
   (:class:`otswarm.agent.groups.Grouping`);
5. **telemetry** (every ``telemetry_s``, :mod:`otswarm.agent.telemetry`): the
   agent's joules by component, power, battery, duty, alignment and drift, one
   retained message for the fleet's operators;
6. **book**: every component's joules go to the ledger (CPU time of each stage
   priced by the board profile, bytes on the radio and the serial line, energy
   moved in and out), and one line goes to the run record.

Every stage runs under :meth:`Agent._stage`: a typed error (bad telemetry, a
malformed summary, a rejected command) is logged with the stage's name and
recorded in the tick, and the tick goes on with what it has. Nothing a peer or
a sensor sends can stop the loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from otswarm.agent.clock import RoundClock
from otswarm.agent.offers import OfferPolicy
from otswarm.agent.record import RunRecordWriter, TickRecord
from otswarm.agent.sense import received_power_w
from otswarm.agent.telemetry import TelemetryPublisher
from otswarm.agent.traffic import LinkTraffic
from otswarm.errors import PROJECT_ERRORS

log = logging.getLogger(__name__)


class Agent:
    """One board's loop. Build it with :func:`otswarm.agent.build.build_agent`."""

    def __init__(
        self,
        agent_id: str,
        *,
        clock: RoundClock,
        sense,
        actuator,
        policy,
        coordinator,
        grouping,
        offers: OfferPolicy,
        ledger,
        bypass_below_soc: float = 0.0,
        align: bool = True,
        record: RunRecordWriter | None = None,
        seed: int | None = None,
        telemetry_s: float | None = None,
        board: str = "",
        rollout=None,
    ) -> None:
        self.id = agent_id
        self.clock = clock
        self.sense = sense
        self.actuator = actuator
        self.policy = policy
        self.coordinator = coordinator
        self.link = coordinator.link
        self.grouping = grouping
        self.offers = offers
        self.ledger = ledger
        self.bypass_below_soc = bypass_below_soc
        self.align = align
        self.record = record
        self.rollout = rollout  # otswarm.rollout.adopter.PolicyRollout: policy updates
        self.traffic = LinkTraffic(self.link, ledger)
        self.telemetry = (
            None if telemetry_s is None else TelemetryPublisher(self, telemetry_s, board)
        )
        self.support = np.asarray(policy.action_values, dtype=float)
        self.ticks = 0
        self.received_w = 0.0
        self._last_mcu_s: float | None = None
        self._rng = np.random.default_rng(seed)
        self._bypassed = False
        self._closed = False

    # -- the tick -------------------------------------------------------------
    def tick(self) -> TickRecord:
        """Run one tick and return (and record) what happened."""
        began = time.perf_counter()
        now = time.time()
        rec = TickRecord(agent=self.id, tick=self.ticks, round=self.clock.round_at(now), t=now)
        reading = self._stage("sense", rec, self.sense.read)
        if reading is not None:
            rec.battery_soc = reading.battery_soc
            rec.harvest_w = reading.harvest_w
            rec.load_w = reading.load_w
            if self.rollout is not None:
                self._stage("rollout", rec, self._take_rollout, reading)
            self._stage("decide", rec, self._decide_and_act, reading, rec)
            if self.rollout is not None:
                self._stage("rollout", rec, self._watch_policy, rec)
            self._stage("drift", rec, self._watch_drift, reading, rec)
        self._stage("coordinate", rec, self._coordinate, reading, rec)
        rec.members_alive = len(self.link.alive())
        if self.telemetry is not None:
            self._stage("telemetry", rec, self.telemetry.tick, rec)
        self._stage("book", rec, self._book)
        rec.tick_s = time.perf_counter() - began
        self._stage("record", rec, self._write, rec)
        self.ticks += 1
        return rec

    def _stage(self, name: str, rec: TickRecord, fn: Callable, *args):
        """Run one stage; a typed error is logged and recorded, never raised."""
        try:
            return fn(*args)
        except PROJECT_ERRORS as exc:
            fields = {"event": "error", "stage": name, "error": type(exc).__name__}
            log.warning("%s: %s", name, exc, extra={"fields": fields})
            rec.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug must not stop the board either; it is logged loudly
            log.exception("%s: unexpected %s", name, type(exc).__name__)
            rec.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        return None

    def _decide_and_act(self, reading, rec: TickRecord) -> None:
        from otswarm.policy import build_observation

        obs = build_observation(reading.quantities(self.received_w), self.policy.card.observation)
        with self.ledger.measure("policy"):
            probs = self.policy.action_probabilities(obs)
        rec.policy_probs = [float(p) for p in probs]
        with self.ledger.measure("ot"):
            aligned = self.coordinator.align(probs)
        rec.alignment_bypassed = self._battery_low(reading.battery_soc)
        own = rec.alignment_bypassed or not self.align
        drawn = np.asarray(probs, dtype=float) if own else aligned
        index = int(self._rng.choice(self.support.size, p=drawn / drawn.sum()))
        rec.duty_probs = [float(p) for p in drawn]
        rec.duty = float(self.support[index])
        self.actuator.set_duty(rec.duty)

    def _take_rollout(self, reading) -> None:
        """At the tick boundary: the policy that decides from now on (a rollout may switch it)."""
        with self.ledger.measure("policy"):
            self.policy = self.rollout.at_tick_boundary(reading.quantities(self.received_w))

    def _watch_policy(self, rec: TickRecord) -> None:
        self.policy = self.rollout.watch(rec.policy_probs)  # may roll back
        rec.policy_hash = self.rollout.policy_hash

    def _battery_low(self, soc: float) -> bool:
        """True below ``bypass_below_soc``; logs when the bypass switches on or off."""
        low = soc < self.bypass_below_soc
        if low != self._bypassed:
            self._bypassed = low
            fields = {"event": "alignment_bypass", "on": low, "soc": soc}
            state = "bypassed, the policy decides alone" if low else "back on"
            log.info("battery safety: alignment %s", state, extra={"fields": fields})
        return low

    def _watch_drift(self, reading, rec: TickRecord) -> None:
        with self.ledger.measure("ot"):
            outcome = self.coordinator.observe(reading.harvest_w)
        if outcome is None:
            return
        rec.drift_w1 = outcome.distance
        if outcome.stale:
            rec.stale_policy = True
            fields = {
                "event": "stale_policy",
                "w1": outcome.distance,
                "threshold": outcome.threshold,
                "rate": outcome.rate,
            }
            log.warning("drift: stale policy, consensus re-anchored", extra={"fields": fields})

    def _coordinate(self, reading, rec: TickRecord) -> None:
        supply = demand = round_s = 0.0
        if reading is not None:
            round_s = 0.0 if self._last_mcu_s is None else reading.mcu_time_s - self._last_mcu_s
            self._last_mcu_s = reading.mcu_time_s
            supply, demand = self.offers.supply_demand(reading, round_s)
        rec.group, rec.group_head = self.grouping.update(rec.round)
        report = self.coordinator.round(rec.round, supply, demand)
        rec.adaptation_rate = report.step
        rec.peers = report.neighbours_heard
        if report.state is not None:
            rec.aligned_probs = [float(p) for p in report.state]
        if report.sent is not None:
            rec.planner, rec.plan_round = report.sent.planner, report.sent.round
            rec.plan_given_j = report.sent.joules
        if report.received is not None:
            rec.plan_received_j = report.received.delivered_j
        rec.given_j, rec.received_j = report.given_j, report.taken_j  # what the MCU moved
        self.received_w = received_power_w(rec.received_j, round_s)

    def _book(self) -> None:
        self.traffic.book()
        self.actuator.book_serial()

    def _write(self, rec: TickRecord) -> None:
        if self.record is not None:
            self.record.write(rec)

    # -- lifecycle ------------------------------------------------------------
    def run(self, stop: threading.Event, max_ticks: int | None = None) -> None:
        """Tick on the round clock until ``stop`` is set (SIGTERM) or ``max_ticks`` ran."""
        log.info("agent %s running", self.id, extra={"fields": {"event": "start"}})
        while max_ticks is None or self.ticks < max_ticks:
            if not self.clock.wait_next_tick(stop):
                break
            self.tick()

    def close(self) -> None:
        """Publish offline, close the link and the bridge, flush and close the ledger."""
        if self._closed:
            return
        self._closed = True
        for name, fn in (
            ("link", self.link.close),
            ("traffic", self.traffic.book),
            ("bridge", self.actuator.close),
            ("ledger", self.ledger.close),
            ("record", self.record.close if self.record else lambda: None),
        ):
            try:
                fn()
            except Exception:
                log.exception("shutdown: closing the %s failed", name)
        log.info("agent %s stopped", self.id, extra={"fields": {"event": "stop"}})
