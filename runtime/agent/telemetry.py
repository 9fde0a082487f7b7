"""The agent's telemetry: every ``[agent].telemetry_s`` seconds, one retained
:class:`~otswarm.summaries.Telemetry` message with its energy and state.

Figures (since the agent started, at publication time ``t``):

- ``joules[c]``: the joules of component ``c`` the agent's ledger booked since it
  opened at the start (:meth:`~otswarm.energy.EnergyLedger.booked`, from memory);
- ``power_w = (S(t) - S(t')) / (b(t) - b(t'))``, with ``S`` the spent joules
  (every component but ``energy_in``/``energy_out``), ``t'`` the previous
  publication (the start, for the first) and ``b`` the time up to which the
  ledger has booked the idle baseline (it books it in commit-window steps, so
  dividing by wall time instead would swing by a window's idle energy);
- battery, duty and drift: the last tick's; ``plans_executed``: ticks that
  executed this agent's part of an allocation plan;
- ``rollout_outcome`` and ``rollout_code``: the agent's last answer to a policy
  rollout (:mod:`otswarm.rollout`), none before the first;
- ``alignment_w1 = W1(s, b)``, ``s`` this agent's consensus state and ``b`` the
  W2 barycenter of ``s`` and the neighbours' states it used that round (None
  while it has heard no neighbour).

The message goes out through the swarm link like every summary (signed when the
swarm has a key), so its bytes are booked as ``mqtt_tx`` with the rest of the
tick's traffic.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from otswarm.energy.ledger import ALLOCATION_COMPONENTS
from otswarm.summaries import Telemetry

log = logging.getLogger(__name__)


def file_sha256(path: Path) -> bytes:
    """SHA-256 of a file's bytes (the policy model), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as model:
        while block := model.read(1 << 20):
            digest.update(block)
    return digest.digest()


def w1_to_barycenter(state, peers, support) -> float | None:
    """W1 from ``state`` to the W2 barycenter of ``state`` and ``peers`` (None: no peers)."""
    from otswarm.coordination.quantile import barycenter_1d, w1_to_all

    if state is None or not peers:
        return None
    states = np.vstack([state, *peers])
    return float(w1_to_all(states[:1], barycenter_1d(states, support), support)[0])


class TelemetryPublisher:
    """Builds and publishes the agent's telemetry when due (call :meth:`tick` every tick).

    ``agent`` is the :class:`~otswarm.agent.loop.Agent` (its link, ledger, policy,
    alignment exchange and support are read at publication time, so a policy swapped
    at run time is reported by its new hash).
    """

    def __init__(
        self, agent, period_s: float, board: str = "", clock: Callable[[], float] = time.time
    ) -> None:
        self.agent = agent
        self.period_s = float(period_s)
        self.board = board
        self.clock = clock
        self.started_t = clock()
        self.plans_executed = 0
        self.published = 0
        self._last_t = self._booked_until = self.started_t
        self._last_spent_j = self._power_w = 0.0
        self._drift_w1: float | None = None
        self._hashes: dict[tuple, bytes] = {}

    def tick(self, rec) -> Telemetry | None:
        """Count ``rec``'s plan; publish when a period has passed since the last one
        (and at the first tick); return the message published, if any."""
        if rec.plan_round is not None:
            self.plans_executed += 1
        if rec.drift_w1 is not None:
            self._drift_w1 = rec.drift_w1  # measured once per drift window: keep the last
        now = self.clock()
        if self.published and now - self._last_t < self.period_s:
            return None
        message = self.build(rec, now)
        self.agent.link.publish(message, round=rec.round)
        self.published += 1
        return message

    def build(self, rec, now: float) -> Telemetry:
        a = self.agent
        totals = a.ledger.booked()
        spent = sum(j for c, j in totals.items() if c not in ALLOCATION_COMPONENTS)
        booked_until = max(a.ledger.booked_until("idle") or 0.0, self._booked_until)
        span = booked_until - self._booked_until
        if span > 0:  # else nothing new is booked yet (a period under the commit window)
            self._power_w = max(0.0, spent - self._last_spent_j) / span
            self._booked_until, self._last_spent_j = booked_until, spent
        self._last_t = now
        state = rec.aligned_probs
        return Telemetry(
            period_s=self.period_s,
            uptime_s=max(0.0, now - self.started_t),
            power_w=self._power_w,
            joules=totals,
            battery_soc=rec.battery_soc,
            duty=rec.duty,
            alignment_w1=w1_to_barycenter(state, a.alignment.peer_states(), a.support),
            drift_w1=self._drift_w1,
            plans_executed=self.plans_executed,
            policy_sha256=self._policy_hash(a.policy.model_path),
            board=self.board,
            **self._rollout(),
        )

    def _rollout(self) -> dict:
        status = getattr(self.agent.rollout, "last_status", None)
        if status is None:
            return {}
        return {"rollout_outcome": int(status.outcome), "rollout_code": status.code}

    def _policy_hash(self, path: Path) -> bytes:
        """The model's SHA-256, hashed again only when the file changed; zeros (and a
        log line) when it cannot be read."""
        try:
            stat = Path(path).stat()
            key = (str(path), stat.st_size, stat.st_mtime_ns)
            if key not in self._hashes:
                self._hashes = {key: file_sha256(path)}
        except OSError as exc:
            log.warning("telemetry: cannot hash the policy %s: %s", path, exc.strerror)
            return bytes(32)
        return self._hashes[key]
