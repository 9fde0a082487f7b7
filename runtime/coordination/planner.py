"""Who computes the allocation plan of a round, and executing it at most once.

The rule. Round ``r``'s *membership view* of an agent is the set of agents whose
energy offer for round ``r`` it holds (its own included), counting only offers
from agents its link knows as live members when they arrive (an offer from an
id that never said it is online, or whose heartbeats stopped, is refused). The
planner of round ``r`` is the smallest id in that view. Every agent evaluates
the rule locally, no election messages are needed, and when the planner dies
(no offer from it), or a smaller id joins (its offer arrives), the next round's
view moves the role by itself.

Which plan an agent executes. :class:`PlanGate` keeps, per round, at most one
plan per planner, and only plans *sent by the planner they name* (the link has
already checked that the sender is the topic's agent, and with per-agent keys
that the sender signed it): a plan naming someone else, or ``-``, is refused. At
execution time (two rounds after the offers, when the view of the round is
complete) the gate takes the plan of the planner the agent itself elects for
that round and nothing else; every other plan kept for the round is refused
then, with the reason. A round is closed once taken, so duplicates and late
copies are refused too. What the plan asks is then checked against the round's
offers (:func:`otswarm.coordination.plans.check_plan`) before any joule moves.

Why this is safe. Each agent moves only its own row (what it sends) and takes
in only what its suppliers report they sent, bounded by its own deficit. When
views diverge (lost offers), agents that elect different planners execute
nothing they did not elect: at worst some agents skip a round. With consistent
views (the common case, and always after one lossless round) every member
executes the same single plan.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

log = logging.getLogger(__name__)


class _Plan(Protocol):
    round: int
    planner: str


def planner_of(view: Iterable[str]) -> str | None:
    """The planner of a round: the smallest id in the membership view (None if empty)."""
    return min(view, default=None)


class PlanGate:
    """Per-agent exactly-once gate for allocation plans (see the module doc).

    ``refuse(sender, reason)`` is called for every plan the gate turns down (the
    allocation round logs and counts it).
    """

    def __init__(self, agent: str, refuse, history: int = 256):
        self.agent = agent
        self.refuse = refuse
        self.history = history
        self._candidates: dict[int, dict[str, _Plan]] = {}
        self._done: dict[int, str | None] = {}

    def consider(self, plan: _Plan, sender: str) -> bool:
        """Keep ``plan`` (sent by ``sender``) for its round; False when refused."""
        r = plan.round
        if sender != plan.planner:
            self.refuse(sender, "forged planner", f"plan of round {r} names {plan.planner!r}")
            return False
        if r in self._done:
            self.refuse(sender, "round closed", f"plan of round {r} came after it was executed")
            return False
        self._candidates.setdefault(r, {}).setdefault(sender, plan)  # a planner's first plan
        return True

    def take(self, round: int, elected: str | None) -> _Plan | None:
        """The plan of ``elected`` for ``round`` (once); None when it sent none or the
        round was taken. Plans of other planners for the round are refused now."""
        if round in self._done:
            return None
        kept = self._candidates.pop(round, {})
        plan = kept.pop(elected, None) if elected is not None else None
        for planner in sorted(kept):
            self.refuse(planner, "not the elected planner",
                        f"round {round}: this agent elected {elected}")  # fmt: skip
        self._done[round] = None if plan is None else plan.planner
        for old in [r for r in self._done if r <= round - self.history]:
            del self._done[old]
        for old in [r for r in self._candidates if r < round]:
            del self._candidates[old]
        return plan

    def candidate(self, round: int, elected: str | None) -> _Plan | None:
        """The plan that would be executed for ``round`` now (None: none kept)."""
        return self._candidates.get(round, {}).get(elected)

    def executed(self, round: int) -> str | None:
        """Planner of the plan executed for ``round`` (None: nothing executed or not yet)."""
        return self._done.get(round)
