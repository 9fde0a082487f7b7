"""The operator's side of a rollout: canaries first, then the swarm; who adopted what.

::

    agents = the swarm's members online now (their retained ``state``), sorted by id
    canary K > 0: stage 1 asks only the first K. Each must answer ADOPTED within
        ``timeout_s`` and then stay online and ADOPTED (no rollback) for ``wait_s``.
        Otherwise the rollout is withdrawn: the retained rollout from before it is
        put back (or the topic cleared), so no other agent, and no board that comes
        back later, ever sees it.
    stage 2 (the only stage without canaries): every agent; each online agent's
        answer is awaited up to ``timeout_s``. Agents offline now get the retained
        rollout when they are back.

An answer belongs to this rollout when its ``issued_us`` and model SHA-256 are this
rollout's (retained answers to earlier rollouts are ignored).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from otswarm.rollout.errors import RolloutError
from otswarm.rollout.operator_client import OperatorClient
from otswarm.summaries import Outcome, Rollout, RolloutStatus

NO_ANSWER = "no_answer"
NOT_ASKED = "not_asked"


@dataclass(frozen=True)
class AgentResult:
    """What one agent did: ``outcome`` is ``adopted``, ``refused``, ``rolled_back``,
    ``no_answer`` (asked, silent or gone offline) or ``not_asked`` (stopped at the canaries)."""

    agent: str
    outcome: str
    code: str = ""
    detail: str = ""
    policy: str = ""  # SHA-256 (16 hex) of the model it runs, from its answer
    canary: bool = False


@dataclass(frozen=True)
class RolloutReport:
    model: str  # SHA-256 (16 hex) of the rolled-out model
    issued_us: int
    results: tuple[AgentResult, ...]
    stopped_at_canaries: bool

    @property
    def ok(self) -> bool:
        """Every agent asked adopted it, and the rollout went past its canaries."""
        return not self.stopped_at_canaries and all(r.outcome == "adopted" for r in self.results)

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "issued_us": self.issued_us,
            "ok": self.ok,
            "stopped_at_canaries": self.stopped_at_canaries,
            "agents": {r.agent: _fields(r) for r in self.results},
        }


def _fields(result: AgentResult) -> dict:
    return {k: v for k, v in vars(result).items() if k != "agent"}


class Campaign:
    """One rollout through ``client``; ``make_rollout(targets)`` signs the message for a stage.

    ``say`` receives one line of progress per step (the command prints it).
    """

    def __init__(
        self,
        client: OperatorClient,
        make_rollout: Callable[[tuple[str, ...]], Rollout],
        *,
        canary: int = 0,
        wait_s: float = 30.0,
        timeout_s: float = 60.0,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        if canary < 0 or wait_s < 0 or timeout_s <= 0:
            raise RolloutError("need canary >= 0, wait >= 0 and timeout > 0")
        self.client = client
        self.make_rollout = make_rollout
        self.canary = canary
        self.wait_s = wait_s
        self.timeout_s = timeout_s
        self.say = say
        self._rollout: Rollout | None = None

    def run(self) -> RolloutReport:
        agents = self.client.online_agents()
        if not agents:
            raise RolloutError(f"no agent of swarm {self.client.swarm!r} is online")
        canaries = tuple(agents[: self.canary]) if 0 < self.canary < len(agents) else ()
        if canaries:
            self.say(f"stage 1: canaries {', '.join(canaries)}")
            answers = self._stage(canaries)
            failed = [a for a in canaries if answers[a].outcome != "adopted"]
            if not failed:
                self.say(f"canaries adopted; watching them for {self.wait_s:g} s")
                failed = self._watch(canaries)
                answers = {a: self._result(a, canary=True) for a in canaries}
            if failed:
                self.say(f"stopped at the canaries ({', '.join(failed)}); rollout withdrawn")
                self.client.restore_previous()
                rest = [AgentResult(a, NOT_ASKED) for a in agents if a not in canaries]
                return self._report([*answers.values(), *rest], stopped=True)
        self.say(f"stage {2 if canaries else 1}: every agent ({len(agents)} online)")
        answers = self._stage((), wait_for=tuple(agents))
        marked = [replace(r, canary=r.agent in canaries) for r in answers.values()]
        return self._report(marked, stopped=False)

    def _stage(self, targets: tuple[str, ...], wait_for: tuple[str, ...] = ()) -> dict:
        self._rollout = self.make_rollout(targets)
        self.client.publish(self._rollout)
        waiting = targets or wait_for
        deadline = time.monotonic() + self.timeout_s
        with self.client.changed:
            while True:
                pending = [a for a in waiting if self._answer(a) is None and self._up(a)]
                left = deadline - time.monotonic()
                if not pending or left <= 0:
                    break
                self.client.changed.wait(min(left, 0.5))
        return {a: self._result(a, canary=bool(targets)) for a in waiting}

    def _watch(self, canaries: tuple[str, ...]) -> list[str]:
        """Canaries that went offline or rolled back within ``wait_s``."""
        deadline = time.monotonic() + self.wait_s
        with self.client.changed:
            while True:
                bad = [a for a in canaries if self._result(a).outcome != "adopted"]
                left = deadline - time.monotonic()
                if bad or left <= 0:
                    return bad
                self.client.changed.wait(min(left, 0.5))

    def _answer(self, agent: str) -> RolloutStatus | None:
        status = self.client.statuses.get(agent)
        rollout = self._rollout
        if status is None or (status.issued_us, status.rollout) != (
            rollout.issued_us,
            rollout.model_sha256,
        ):
            return None
        return status

    def _up(self, agent: str) -> bool:
        return self.client.online.get(agent, False)

    def _result(self, agent: str, canary: bool = False) -> AgentResult:
        status = self._answer(agent)
        if status is None:
            why = "offline" if not self._up(agent) else f"no answer within {self.timeout_s:g} s"
            return AgentResult(agent, NO_ANSWER, "", why, canary=canary)
        outcome = status.outcome.name.lower()
        if status.outcome is Outcome.ADOPTED and not self._up(agent):
            outcome, detail = NO_ANSWER, "adopted, then went offline"
        else:
            detail = status.detail
        return AgentResult(agent, outcome, status.code, detail, status.policy.hex()[:16], canary)

    def _report(self, results: list[AgentResult], stopped: bool) -> RolloutReport:
        rollout = self._rollout
        return RolloutReport(
            rollout.model_sha256.hex()[:16],
            rollout.issued_us,
            tuple(sorted(results, key=lambda r: r.agent)),
            stopped,
        )
