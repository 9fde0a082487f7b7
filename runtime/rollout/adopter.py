"""The agent's side of a rollout: check the operator's latest rollout, switch policy
at a tick boundary, watch the new policy and roll back by itself when it fails.

Flow (the network thread only stores the message; everything else runs in the
agent's tick, under its ``rollout`` stage)::

    operator/rollout ──> inbox (latest wins) ──> at_tick_boundary(quantities)
        for this agent? ── no ──> ignored (untouched)
        signature (trusted operator key) ─> swarm ─> not older than the one running
        ─> size ─> card ─> observation/actions contract ─> LiteRT load ─> smoke
        ── any refusal ──> keep the current policy; status REFUSED + reason
        ── all pass ─────> current becomes previous, the new one decides this tick;
                           status ADOPTED
    watch(policy_probs) after each decision: ``rollback_after`` decisions in a row
    without a probability distribution from the new policy ──> back to the previous
    one; status ROLLED_BACK (and that rollout is never adopted again by this run)

Every answer is published retained on this agent's ``rollout_status`` topic and
logged with ``event`` ``rollout_adopted``, ``rollout_refused`` or
``rollout_rolled_back``.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from otswarm.link.topics import OPERATOR
from otswarm.policy import Policy
from otswarm.rollout.candidate import Contract, check_distribution, load_candidate
from otswarm.rollout.errors import RolloutError, SmokeTestError, StaleRolloutError, WrongSwarmError
from otswarm.rollout.signing import check_signature
from otswarm.summaries import Envelope, Kind, Outcome, Rollout, RolloutStatus

log = logging.getLogger(__name__)

MAX_FAILED = 64  # refused rollouts remembered, so a re-delivery is answered, not re-checked


@dataclass(frozen=True)
class Running:
    """A policy and where it came from (``issued_us`` 0: the config's own policy)."""

    policy: Policy
    sha256: bytes
    issued_us: int = 0


class PolicyRollout:
    """Which policy an agent runs, and how it changes when the operator rolls one out.

    Args:
        agent, swarm: this agent's id and swarm.
        link: its swarm link (rollouts arrive, statuses leave through it).
        policy, policy_sha256: the policy it starts with (from its config) and the
            SHA-256 of its model file.
        trusted_key: the operator's Ed25519 public key (None: every rollout is refused).
        contract: what a new policy must fit (:class:`~otswarm.rollout.candidate.Contract`).
        store_dir: where adopted models are written (named by their SHA-256).
        rollback_after: failed decisions in a row that send it back to the previous policy.
    """

    def __init__(
        self,
        agent: str,
        swarm: str,
        link,
        policy: Policy,
        policy_sha256: bytes,
        *,
        trusted_key,
        contract: Contract,
        store_dir: Path,
        rollback_after: int = 3,
    ) -> None:
        self.agent = agent
        self.swarm = swarm
        self.link = link
        self.trusted_key = trusted_key
        self.contract = contract
        self.store_dir = Path(store_dir)
        self.rollback_after = rollback_after
        self.current = Running(policy, policy_sha256)
        self.previous: Running | None = None
        self._failures = 0
        self._last_failure = ""
        self._pending: Rollout | None = None
        self._lock = threading.Lock()
        # (issued_us, model sha256) -> the answer: rollouts refused or rolled back by this run
        self._failed: OrderedDict[tuple[int, bytes], RolloutStatus] = OrderedDict()
        link.on(Kind.ROLLOUT, self._on_rollout, sender=OPERATOR)

    @property
    def policy(self) -> Policy:
        return self.current.policy

    @property
    def policy_hash(self) -> str:
        """Hex SHA-256 of the running model (16 characters)."""
        return self.current.sha256.hex()[:16]

    def _on_rollout(self, envelope: Envelope) -> None:
        """Network thread: keep the latest rollout for the next tick boundary."""
        with self._lock:
            self._pending = envelope.message

    # -- at a tick boundary ---------------------------------------------------------------

    def at_tick_boundary(self, quantities: Mapping[str, float]) -> Policy:
        """Decide on the rollout received since the last tick (if any); the policy to run."""
        with self._lock:
            rollout, self._pending = self._pending, None
        if rollout is None:
            return self.policy
        if not rollout.for_agent(self.agent):
            log.debug("rollout %s is for %s, not this agent", _name(rollout), rollout.targets)
            return self.policy
        try:
            self._consider(rollout, quantities)
        except RolloutError as exc:
            self._answer(rollout, Outcome.REFUSED, exc.code, str(exc), log.warning)
        return self.policy

    def _consider(self, rollout: Rollout, quantities: Mapping[str, float]) -> None:
        check_signature(rollout, self.trusted_key)
        if rollout.swarm != self.swarm:
            raise WrongSwarmError(f"signed for swarm {rollout.swarm!r}, this is {self.swarm!r}")
        key = (rollout.issued_us, rollout.model_sha256)
        if key == (self.current.issued_us, self.current.sha256):  # a second stage, a re-delivery
            self._answer(rollout, Outcome.ADOPTED, "adopted", "already running it", log.info)
            return
        if key in self._failed:  # refused or rolled back before: the same answer, no retry
            self._publish(self._failed[key], log.info, "decided before: " + self._failed[key].code)
            return
        if rollout.issued_us <= self.current.issued_us:
            raise StaleRolloutError(
                f"issued at {rollout.issued_us} µs, not after the running rollout "
                f"({self.current.issued_us} µs)"
            )
        try:
            policy = load_candidate(rollout, self.contract, self.store_dir, quantities)
        except RolloutError as exc:
            self._remember(key, self._answer(rollout, Outcome.REFUSED, exc.code, str(exc),
                                             log.warning))  # fmt: skip
            return
        self.previous = self.current
        self.current = Running(policy, rollout.model_sha256, rollout.issued_us)
        self._failures = 0
        self._answer(
            rollout, Outcome.ADOPTED, "adopted",
            f"now running {self.policy_hash} (previous {self.previous.sha256.hex()[:16]} kept)",
            log.info,
        )  # fmt: skip

    # -- after each decision ---------------------------------------------------------------

    def watch(self, policy_probs) -> Policy:
        """After a decision: ``policy_probs`` is what the policy gave (None: it failed).
        Rolls back after ``rollback_after`` failures in a row; returns the policy to run."""
        if self.previous is None:
            return self.policy
        try:
            if policy_probs is None:
                raise SmokeTestError("the policy gave no output this tick")
            check_distribution(policy_probs, len(self.contract.action_values), "decision")
        except SmokeTestError as exc:
            self._failures += 1
            self._last_failure = str(exc)
        else:
            self._failures = 0
        if self._failures >= self.rollback_after:
            self._roll_back()
        return self.policy

    def _roll_back(self) -> None:
        failed, self.current, self.previous = self.current, self.previous, None
        self._failures = 0
        detail = (
            f"{failed.sha256.hex()[:16]} failed {self.rollback_after} decisions in a row "
            f"({self._last_failure}); back on {self.policy_hash}"
        )
        status = RolloutStatus(Outcome.ROLLED_BACK, failed.issued_us, failed.sha256,
                               self.current.sha256, "failed", detail)  # fmt: skip
        self._remember((failed.issued_us, failed.sha256), status)
        self._publish(status, log.warning, detail)

    # -- answers -----------------------------------------------------------------------------

    def _answer(
        self, rollout: Rollout, outcome: Outcome, code: str, detail: str, say
    ) -> RolloutStatus:
        status = RolloutStatus(outcome, rollout.issued_us, rollout.model_sha256,
                               self.current.sha256, code, detail)  # fmt: skip
        self._publish(status, say, detail)
        return status

    def _remember(self, key: tuple[int, bytes], status: RolloutStatus) -> None:
        self._failed[key] = status
        while len(self._failed) > MAX_FAILED:
            self._failed.popitem(last=False)

    def _publish(self, status: RolloutStatus, say, detail: str) -> None:
        event = {Outcome.ADOPTED: "rollout_adopted", Outcome.REFUSED: "rollout_refused",
                 Outcome.ROLLED_BACK: "rollout_rolled_back"}[status.outcome]  # fmt: skip
        fields = {
            "event": event,
            "code": status.code,
            "rollout": status.rollout.hex()[:16],
            "issued_us": status.issued_us,
            "policy": self.policy_hash,
        }
        say("rollout %s: %s: %s", status.rollout.hex()[:16], event[8:].replace("_", " "), detail,
            extra={"fields": fields})  # fmt: skip
        self.link.publish(status)


def _name(rollout: Rollout) -> str:
    return rollout.model_sha256.hex()[:16]
