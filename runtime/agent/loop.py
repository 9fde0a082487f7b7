"""The agent loop: one tick per round — sense, decide, act, publish, book.

Data flows one way through a tick (Unix time ``t``, round ``k``):

1. **sense**: the MCU's telemetry (battery SoC and capacity, harvest W, load W,
   duty);
   **rollout** (:class:`otswarm.rollout.adopter.PolicyRollout`): a rollout received
   since the last tick is checked and, when it passes, its policy decides from
   this tick on (after the decision it is watched, and rolled back when it fails);
2. **decide**:
   - the policy's action distribution ``pi`` over duty levels; alignment
     pushes it through the OT map onto the swarm consensus, ``pi' = pi K``; the
     duty is drawn from ``pi'`` (seeded). Battery safety: below
     ``bypass_below_soc`` the duty is drawn from ``pi`` itself (alignment never
     drains a board's battery against its own policy); ``pi`` still feeds the
     aligner's average, so the board's anchor stays current. With ``align`` off
     (``[coordination].alignment = false``, the default) the duty is always drawn
     from ``pi``; the consensus still runs and is published (the swarm's view);
   - the drift monitor is fed with the harvest
     (:class:`otswarm.coordination.exchange.AlignmentExchange`);
   - consensus: the groups (:class:`otswarm.agent.groups.Grouping`, from the
     offers of the last round: none up to ``cluster_size`` members, else
     OT-balanced groups) go to the alignment exchange; the consensus state
     moves (step = the drift monitor's adaptation rate) toward the peers'
     barycenter, or, in groups, toward the swarm barycenter of the two-level
     consensus (:mod:`otswarm.coordination.hierarchy`);
   - coordinate (a stage of its own, so that a consensus that fails does not
     stop the energy sharing): the allocation round
     (:class:`otswarm.coordination.rounds.AllocationRound`) returns what to move:
     this agent's row of an accepted plan, its column as its suppliers reported
     they sent, and the plan to publish when this agent is the round's planner;
3. **act**: the duty goes to the MCU; then the energy moves through the MCU's
   energy transfer (row out, column in), and the MCU says how much moved;
4. **publish**: the consensus state (a cluster head: its cluster and swarm
   barycenters), the plan (planner only), this agent's energy offer and its
   report of what its battery gave;
5. **telemetry** (every ``telemetry_s``, :mod:`otswarm.agent.telemetry`): the
   agent's joules by component, power, battery, duty, alignment and drift, one
   retained message for the fleet's operators;
6. **book**: the joules of the tick go to the ledger: the bytes on the radio
   and the serial line, and the energy moved in and out as the MCU moved it
   (the CPU time of the policy and the OT work is booked by the ledger's
   spans as it runs; the ledger's docstring lists the one booking place of
   each component), and one line goes to the run record.

The collaborators are typed by :mod:`otswarm.agent.parts` (one protocol per part).

Every stage runs under :meth:`Agent._stage`: a typed error (bad telemetry, a
malformed summary, a rejected command) is logged with the stage's name and
recorded in the tick, and the tick goes on with what it has. Nothing a peer or
a sensor sends can stop the loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

import numpy as np

from otswarm.agent.act import move_energy
from otswarm.agent.clock import RoundClock
from otswarm.agent.offers import OfferPolicy
from otswarm.agent.parts import (
    ActPart,
    AlignmentPart,
    AllocationPart,
    BookPart,
    GroupingPart,
    LinkPart,
    SensePart,
)
from otswarm.agent.record import RunRecordWriter, TickRecord
from otswarm.agent.sense import received_power_w
from otswarm.agent.telemetry import TelemetryPublisher
from otswarm.agent.traffic import LinkTraffic
from otswarm.errors import PROJECT_ERRORS

log = logging.getLogger(__name__)


class Agent:
    """One board's loop. Build it with :func:`otswarm.agent.build.build_agent`.

    ``alignment`` is an :class:`~otswarm.coordination.exchange.AlignmentExchange`,
    ``allocation`` an :class:`~otswarm.coordination.rounds.AllocationRound`, both
    on ``link``; ``grouping`` decides their groups, ``ledger`` books.
    """

    def __init__(
        self,
        agent_id: str,
        *,
        clock: RoundClock,
        sense: SensePart,
        actuator: ActPart,
        policy,
        link: LinkPart,
        alignment: AlignmentPart,
        allocation: AllocationPart,
        grouping: GroupingPart,
        offers: OfferPolicy,
        ledger: BookPart,
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
        self.link = link
        self.alignment = alignment
        self.allocation = allocation
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
        self._round_s = 0.0  # the last round's length on the MCU clock
        self._refused_seen: Counter[str] = Counter()
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
            self._stage("decide", rec, self._decide, reading, rec)
            if self.rollout is not None:
                self._stage("rollout", rec, self._watch_policy, rec)
            self._stage("drift", rec, self._watch_drift, reading, rec)
        self._stage("consensus", rec, self._consensus, rec)
        allocation = self._stage("coordinate", rec, self._coordinate, reading, rec)
        if rec.duty is not None:
            self._stage("act", rec, self.actuator.set_duty, rec.duty)
        if allocation is not None:
            self._stage("move", rec, self._move, allocation, rec)
        self._stage("publish", rec, self._publish, allocation, rec)
        rec.members_alive = len(self.link.alive())
        if self.telemetry is not None:
            self._stage("telemetry", rec, self.telemetry.tick, rec)
        self._stage("book", rec, self._book, rec)
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

    # -- decide ---------------------------------------------------------------
    def _decide(self, reading, rec: TickRecord) -> None:
        from otswarm.policy import build_observation

        obs = build_observation(reading.quantities(self.received_w), self.policy.card.observation)
        with self.ledger.measure("policy"):
            probs = self.policy.action_probabilities(obs)
        rec.policy_probs = [float(p) for p in probs]
        with self.ledger.measure("ot"):
            aligned = self.alignment.align(probs)
        rec.alignment_bypassed = self._battery_low(reading.battery_soc)
        own = rec.alignment_bypassed or not self.align
        drawn = np.asarray(probs, dtype=float) if own else aligned
        index = int(self._rng.choice(self.support.size, p=drawn / drawn.sum()))
        rec.duty_probs = [float(p) for p in drawn]
        rec.duty = float(self.support[index])

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
            outcome = self.alignment.observe(reading.harvest_w)
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

    def _consensus(self, rec: TickRecord) -> None:
        """The round's groups (from the last round's offers) and the consensus move."""
        with self.ledger.measure("ot"):
            groups = self.grouping.update(self.allocation.offers(rec.round - 1))
            self.alignment.set_groups(groups)
            moved = self.alignment.move(rec.round)
        if groups is not None:
            rec.group, rec.group_head = groups.label_of(self.id), groups.head_of(self.id)
        rec.adaptation_rate = moved.step
        rec.peers = moved.neighbours_heard
        if moved.state is not None:
            rec.aligned_probs = [float(p) for p in moved.state]

    def _coordinate(self, reading, rec: TickRecord):
        """The allocation round's decision: what to move and publish."""
        supply = demand = round_s = 0.0
        if reading is not None:
            round_s = 0.0 if self._last_mcu_s is None else reading.mcu_time_s - self._last_mcu_s
            self._last_mcu_s = reading.mcu_time_s
            supply, demand = self.offers.supply_demand(reading, round_s)
        self._round_s = round_s
        allocation = self.allocation.decide(rec.round, supply, demand, self.alignment.replan_period)
        if allocation.executed is not None:
            rec.planner, rec.plan_round = allocation.executed.planner, allocation.executed.round
        if allocation.send is not None:
            rec.plan_given_j = allocation.send.joules
        if allocation.receive is not None:
            rec.plan_received_j = allocation.receive.planned_j
            rec.reported_j = allocation.receive.delivered_j
        return allocation

    # -- act ------------------------------------------------------------------
    def _move(self, allocation, rec: TickRecord) -> None:
        """This agent's part of the plan through the MCU: what it moved is recorded
        (and booked in the book stage), not what the plan said."""
        if allocation.send is not None:
            rec.given_j = -move_energy(self.actuator, "energy_out", -allocation.send.joules)
        if allocation.receive is not None:
            rec.received_j = move_energy(self.actuator, "energy_in", allocation.receive.delivered_j)
        self.received_w = received_power_w(rec.received_j, self._round_s)

    # -- publish --------------------------------------------------------------
    def _publish(self, allocation, rec: TickRecord) -> None:
        self.alignment.publish(rec.round)
        if allocation is not None:
            self.allocation.publish(allocation, rec.given_j)

    # -- book -----------------------------------------------------------------
    def _book(self, rec: TickRecord) -> None:
        """The one place the moved energy, the link traffic and the serial bytes are booked."""
        for component, joules in (("energy_out", rec.given_j), ("energy_in", rec.received_j)):
            if joules > 0:
                self.ledger.book(component, joules)
        refused = self.allocation.refused.copy()
        rec.refused = dict(refused - self._refused_seen)
        self._refused_seen = refused
        self.traffic.book()
        self.actuator.book_serial()

    def _write(self, rec: TickRecord) -> None:
        if self.record is not None:
            self.record.write(rec)

    # -- lifecycle ------------------------------------------------------------
    def run(self, stop: threading.Event, max_ticks: int | None = None) -> None:
        """Tick on the round clock until ``stop`` is set (SIGTERM) or ``max_ticks`` ran."""
        # the kernel's ids of this process's threads, so per-thread CPU (top -H, py-spy,
        # bench/bench_agent.py) can be put on names: loop, link, bridge reader, ledger
        threads = {t.name: t.native_id for t in threading.enumerate()}
        fields = {"event": "start", "threads": threads}
        log.info("agent %s running", self.id, extra={"fields": fields})
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
