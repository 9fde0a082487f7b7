"""Who plans a round, which plan an agent executes, and executing it at most once.

Round ``r``'s *membership view* of an agent is the set of agents whose energy
offer for round ``r`` it holds (its own included), counting only offers from
agents its link knows as live members when they arrive (an offer from an id that
never said it is online, or whose heartbeats stopped, is refused).

Which plan an agent executes (:class:`PlanGate`). The gate keeps, per round, at
most one plan per planner, only from senders of the view, and only plans *sent by
the planner they name* (the link has already checked that the sender is the
topic's agent, and with per-agent keys that the sender signed it): a plan naming
someone else, or ``-``, is refused. At execution time, two rounds after the
offers, the agent executes the plan of **the smallest id whose plan stays within
the round's offers** (:func:`otswarm.coordination.plans.check_plan`); a smaller
plan that does not is refused for that, every larger one as "not the smallest
planner" (an agent covering for a smaller one sends such plans, see below). A
round is closed once taken, so duplicates and late copies are refused too. The
rule needs no history: agents that hold the same plans execute the same one.

Who plans (:func:`plans_round`). The smallest id of the view plans every round
(an empty plan when the round is not worth a solve, so it is heard). Another
agent plans the round too when the smaller ids of its view are *silent*: no plan
of theirs (or of an id smaller still) was executed in the last
:data:`SILENT_ROUNDS` rounds. So a member
that offers with the smallest id and never plans, or plans beyond the offers
(anyone can become a member on an anonymous broker), is covered by the next id
and costs the swarm no round once its silence shows; when the smallest id dies
(no offer from it) or a smaller one joins (its offer arrives) the next round's
view moves the role by itself. A covering agent whose guess is wrong (the
smaller planner is alive after all) only spends one solve: its plan is not the
smallest. While a smaller id ran plans, the next one was not expected to, so its
silence counts from then: when the smallest id leaves, its successor is not
covered for. An agent that just joined covers nobody until it could have heard
them.

Why this is safe. Each agent moves only its own row (what it sends) and takes
in only what its suppliers report they sent under the plan it executed, bounded
by its own deficit. When views diverge (lost offers or plans), agents that
execute different plans move nothing they did not plan: at worst some agents
skip a round. With consistent views (the common case, and always after one
lossless round) every member executes the same single plan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

log = logging.getLogger(__name__)

SILENT_ROUNDS = 2  # a planner none of whose plans ran for this many rounds is covered


class _Plan(Protocol):
    round: int
    planner: str


def planner_of(view: Iterable[str]) -> str | None:
    """The primary planner of a round: the smallest id in the membership view."""
    return min(view, default=None)


def plans_round(
    me: str, view: Iterable[str], round: int, last_run: Mapping[str, int], since: int
) -> bool:
    """Whether ``me`` plans ``round``: it is in ``view``, and the ids of the view
    smaller than ``me`` are silent: no plan of theirs, nor of any id smaller than
    them (``last_run``: the last round whose executed plan was each planner's),
    ran after ``round - SILENT_ROUNDS``, nor did ``me`` take part in rounds before
    that (``since``: its first round)."""
    view = set(view)
    if me not in view:
        return False
    smaller = [a for a in view if a < me]
    if not smaller:
        return True
    top = max(smaller)
    heard = max([since, *(r for planner, r in last_run.items() if planner <= top)])
    return heard < round - SILENT_ROUNDS


class PlanGate:
    """Per-agent exactly-once gate for allocation plans (see the module doc).

    ``refuse(sender, reason, detail)`` is called for every plan the gate turns down
    (the allocation round logs and counts it). :attr:`last_run` maps each planner
    to the last round whose executed plan was its own (:meth:`forget` prunes it).
    """

    def __init__(self, agent: str, refuse, history: int = 256):
        self.agent = agent
        self.refuse = refuse
        self.history = history
        self.last_run: dict[str, int] = {}
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

    def take(self, round: int, within: Callable[[_Plan], bool]) -> _Plan | None:
        """The plan to execute for ``round`` (once): of the plans kept, the one of the
        smallest planner for which ``within(plan)`` holds (``within`` refuses the
        others itself); None when there is none or the round was taken. The plans of
        larger planners are refused now."""
        if round in self._done:
            return None
        kept = self._candidates.pop(round, {})
        chosen = None
        for planner in sorted(kept):
            if chosen is None:
                chosen = kept[planner] if within(kept[planner]) else None
            else:
                self.refuse(planner, "not the smallest planner",
                            f"round {round}: {chosen.planner}'s plan was executed")  # fmt: skip
        self._done[round] = None if chosen is None else chosen.planner
        if chosen is not None:
            self.last_run[chosen.planner] = max(round, self.last_run.get(chosen.planner, round))
        for old in [r for r in self._done if r <= round - self.history]:
            del self._done[old]
        for old in [r for r in self._candidates if r < round]:
            del self._candidates[old]
        return chosen

    def closed(self, round: int) -> bool:
        """True once :meth:`take` ran for ``round``."""
        return round in self._done

    def holds(self, round: int, planner: str) -> bool:
        """True when a plan of ``planner`` for ``round`` is kept (not taken yet)."""
        return planner in self._candidates.get(round, {})

    def executed(self, round: int) -> str | None:
        """Planner of the plan executed for ``round`` (None: nothing executed or not yet)."""
        return self._done.get(round)

    def forget(self, members: set[str]) -> None:
        """Drop :attr:`last_run` entries of agents that are no longer ``members``."""
        for agent in [a for a in self.last_run if a not in members]:
            del self.last_run[agent]
