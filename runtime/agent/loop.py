"""The agent loop: one tick per round — sense, decide, act, publish, coordinate, book.

Data flows one way through a tick (Unix time ``t``, round ``k``):

1. **sense**: the MCU's telemetry (battery SoC, harvest W, load W, duty);
2. **decide**: the policy's action distribution ``pi`` over duty levels; alignment
   pushes it through the OT map onto the swarm consensus, ``pi' = pi K``; the
   duty is drawn from ``pi'`` (seeded);
3. **act**: the duty goes to the MCU through the bridge;
4. **coordinate**: one consensus move of the published state toward the peers'
   barycenter (step = the drift monitor's adaptation rate), the allocation round
   (offer, plan by the round's single planner, execute this agent's row), the
   drift monitor fed with the harvest;
5. **book**: every component's joules go to the ledger (CPU time of each stage
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

from runtime.agent.clock import RoundClock
from runtime.agent.record import RunRecordWriter, TickRecord
from runtime.errors import OtswarmError

log = logging.getLogger(__name__)


class Agent:
    """One board's loop. Build it with :func:`runtime.agent.build.build_agent`."""

    def __init__(
        self,
        agent_id: str,
        *,
        clock: RoundClock,
        sense,
        actuator,
        policy,
        aligner,
        drift,
        swarm,
        allocation,
        ledger,
        record: RunRecordWriter | None = None,
        seed: int | None = None,
    ) -> None:
        self.id = agent_id
        self.clock = clock
        self.sense = sense
        self.actuator = actuator
        self.policy = policy
        self.aligner = aligner
        self.drift = drift
        self.swarm = swarm
        self.allocation = allocation
        self.ledger = ledger
        self.record = record
        self.support = np.asarray(policy.action_values, dtype=float)
        self.ticks = 0
        self.received_w = 0.0
        self._rng = np.random.default_rng(seed)
        self._closed = False

    # -- the tick -------------------------------------------------------------
    def tick(self) -> TickRecord:
        """Run one tick and return (and record) what happened."""
        now = time.time()
        rec = TickRecord(agent=self.id, tick=self.ticks, round=self.clock.round_at(now), t=now)
        reading = self._stage("sense", rec, self.sense.read)
        if reading is not None:
            rec.battery_soc, rec.harvest_w, rec.load_w = (
                reading.battery_soc,
                reading.harvest_w,
                reading.load_w,
            )
            self._stage("decide", rec, self._decide_and_act, reading, rec)
            self._stage("drift", rec, self._watch_drift, reading, rec)
        self._stage("alignment", rec, self._consensus, rec)
        self._stage("allocation", rec, self._allocate, reading, rec)
        rec.members_alive = self.swarm.members_alive()
        self._stage("record", rec, self._write, rec)
        self.ticks += 1
        return rec

    def _stage(self, name: str, rec: TickRecord, fn: Callable, *args):
        """Run one stage; a typed error is logged and recorded, never raised."""
        try:
            return fn(*args)
        except OtswarmError as exc:
            fields = {"event": "error", "stage": name, "error": type(exc).__name__}
            log.warning("%s: %s", name, exc, extra={"fields": fields})
            rec.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug must not stop the board either; it is logged loudly
            log.exception("%s: unexpected %s", name, type(exc).__name__)
            rec.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        return None

    def _decide_and_act(self, reading, rec: TickRecord) -> None:
        from runtime.policy import build_observation

        obs = build_observation(reading.quantities(self.received_w), self.policy.card.observation)
        with self.ledger.measure("policy"):
            probs = self.policy.action_probabilities(obs)
        with self.ledger.measure("ot"):
            aligned = self.aligner.apply(probs)
        index = int(self._rng.choice(self.support.size, p=aligned / aligned.sum()))
        duty = float(self.support[index])
        rec.policy_probs = [float(p) for p in probs]
        rec.duty = duty
        self.actuator.set_duty(duty)

    def _watch_drift(self, reading, rec: TickRecord) -> None:
        with self.ledger.measure("ot"):
            outcome = self.drift.observe(reading.harvest_w)
        rec.adaptation_rate = self.drift.rate
        if outcome is None:
            return
        rec.drift_w1 = outcome.distance
        if outcome.stale:
            rec.stale_policy = True
            self.aligner.reanchor()
            log.warning(
                "drift: stale policy, consensus re-anchored",
                extra={
                    "fields": {
                        "event": "stale_policy",
                        "w1": outcome.distance,
                        "threshold": outcome.threshold,
                        "rate": outcome.rate,
                    }
                },
            )

    def _consensus(self, rec: TickRecord) -> None:
        if self.aligner.reference is None:
            return  # no policy output yet: nothing to align
        neighbours = self.swarm.peer_states(rec.round)
        before = None if self.aligner.state is None else self.aligner.state.copy()
        with self.ledger.measure("ot"):
            state = self.aligner.consensus_round(neighbours, step=self.drift.rate)
        rec.peers = len(neighbours)
        rec.aligned_probs = [float(p) for p in state]
        if len(neighbours) and before is not None:
            rec.w1_to_barycenter = self.swarm.distance_to_barycenter(before, neighbours)
        self.swarm.publish_state(state, rec.round)

    def _allocate(self, reading, rec: TickRecord) -> None:
        if self.allocation is None:
            return
        outcome = self.allocation.step(rec.round, reading)
        if outcome is None:
            self.received_w = 0.0
            return
        rec.planner, rec.plan_round = outcome.planner, outcome.round
        rec.given_j, rec.received_j = outcome.given_j, outcome.received_j
        self.received_w = outcome.received_j / self.clock.period_s

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
            ("swarm", self.swarm.close),
            ("bridge", self.actuator.close),
            ("ledger", self.ledger.close),
            ("record", self.record.close if self.record else lambda: None),
        ):
            try:
                fn()
            except Exception:
                log.exception("shutdown: closing the %s failed", name)
        log.info("agent %s stopped", self.id, extra={"fields": {"event": "stop"}})
