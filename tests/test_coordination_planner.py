"""The planner rule and the exactly-once plan gate."""

from __future__ import annotations

from dataclasses import dataclass

from otswarm.coordination.planner import PlanGate, planner_of


@dataclass(frozen=True)
class Plan:
    round: int
    planner: str


def test_planner_is_the_smallest_id_of_the_view():
    assert planner_of({"a3", "a1", "a2"}) == "a1"
    assert planner_of([]) is None


def test_one_plan_per_round_even_with_duplicates_and_late_copies():
    gate = PlanGate("a5")
    assert gate.consider(Plan(7, "a1"), expected_planner="a1")
    assert gate.consider(Plan(7, "a1"), expected_planner="a1")  # duplicate delivery
    assert gate.take(7) == Plan(7, "a1")
    assert gate.take(7) is None
    assert not gate.consider(Plan(7, "a1"), expected_planner="a1")  # late copy
    assert gate.executed(7) == "a1"


def test_smaller_planner_wins_and_larger_than_expected_is_refused():
    gate = PlanGate("a5")
    assert not gate.consider(Plan(3, "a4"), expected_planner="a2")
    assert gate.consider(Plan(3, "a2"), expected_planner="a2")
    assert gate.consider(Plan(3, "a0"), expected_planner="a2")  # alive, just unheard
    assert gate.take(3).planner == "a0"


def test_a_round_without_plan_executes_nothing_and_stays_closed():
    gate = PlanGate("a5")
    assert gate.take(4) is None
    assert not gate.consider(Plan(4, "a1"), expected_planner="a1")
    assert gate.executed(4) is None
