"""Who computes the allocation plan of a round, and executing it at most once.

The rule. Round ``r``'s *membership view* of an agent is the set of agents whose
energy offer for round ``r`` it holds (its own included). The planner of round
``r`` is the smallest id in that view. Every agent can evaluate the rule locally,
no election messages are needed, and when the planner dies (no offer from it),
or a smaller id joins (its offer arrives), the next round's view moves the role
by itself.

Why executing at most one plan per round per agent is safe. An agent executes a
plan for round ``r`` only through :class:`PlanGate`, which

1. keeps the plans received for round ``r`` whose planner id is not larger than
   the smallest id of the agent's own view (a smaller id it did not hear from is
   alive, since it published; a larger one is not the planner it expects),
2. at execution time takes the one with the smallest planner id, and
3. remembers the round, so duplicates and late plans for that round are refused.

Each agent moves only its own row (what it sends) and books only transfers that
name it, and an executor refuses a plan whose row exceeds its own offer. So even
when views diverge (lost offers) and two planners publish, no agent sends more
than it offered, and nothing is executed or booked twice. With consistent views
(the common case, and always after one lossless round) every agent executes the
same single plan.
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
    """Per-agent exactly-once gate for allocation plans (see the module doc)."""

    def __init__(self, agent: str, history: int = 256):
        self.agent = agent
        self.history = history
        self._candidates: dict[int, _Plan] = {}
        self._done: dict[int, str | None] = {}

    def consider(self, plan: _Plan, expected_planner: str | None) -> bool:
        """Keep ``plan`` as a candidate for its round; False when refused (and why is logged)."""
        r = plan.round
        if r in self._done:
            log.debug(
                "%s: plan of %s for round %d refused: round done", self.agent, plan.planner, r
            )
            return False
        if expected_planner is not None and plan.planner > expected_planner:
            log.info(
                "%s: plan of %s for round %d refused: expected planner %s",
                self.agent,
                plan.planner,
                r,
                expected_planner,
            )
            return False
        best = self._candidates.get(r)
        if best is None or plan.planner < best.planner:
            self._candidates[r] = plan
        return True

    def take(self, round: int) -> _Plan | None:
        """The plan to execute for ``round`` (once); None when none came or it was taken."""
        if round in self._done:
            return None
        plan = self._candidates.pop(round, None)
        self._done[round] = None if plan is None else plan.planner
        for old in [r for r in self._done if r <= round - self.history]:
            del self._done[old]
        for old in [r for r in self._candidates if r < round]:
            del self._candidates[old]
        return plan

    def candidate(self, round: int) -> _Plan | None:
        """The plan that would be executed for ``round`` now (None: none kept)."""
        return self._candidates.get(round)

    def executed(self, round: int) -> str | None:
        """Planner of the plan executed for ``round`` (None: nothing executed or not yet)."""
        return self._done.get(round)
