"""The planner rule, the exactly-once plan gate, and checking a plan against the offers."""

from __future__ import annotations

import pytest

from otswarm.coordination.costs import TransferCosts
from otswarm.coordination.errors import PlanError
from otswarm.coordination.planner import PlanGate, planner_of, plans_round
from otswarm.coordination.plans import check_plan, column_of, row_of, sent_report
from otswarm.summaries import AllocationPlan, EnergyOffer, Transfer, TransferReport


def _gate():
    refused = []
    return PlanGate("a5", lambda sender, reason, detail: refused.append((sender, reason))), refused


def _any(plan) -> bool:
    return True


def test_planner_is_the_smallest_id_of_the_view():
    assert planner_of({"a3", "a1", "a2"}) == "a1"
    assert planner_of([]) is None


def test_the_smallest_id_plans_and_others_cover_only_for_silent_smaller_ids():
    view = {"a0", "a1", "a2"}
    assert plans_round("a0", view, 10, {}, since=9)  # the smallest: always
    assert not plans_round("a3", view, 10, {}, since=0)  # no offer in the round: never
    assert plans_round("a1", view, 10, {}, since=7)  # nothing of a0 ran: covers it
    assert not plans_round("a1", view, 10, {}, since=8)  # ... but not before it could know
    assert not plans_round("a1", view, 10, {"a0": 8}, since=0)
    assert plans_round("a1", view, 10, {"a0": 7}, since=0)  # a0's plans stopped running
    assert not plans_round("a2", view, 10, {"a1": 9}, since=0)  # a0 silent, a1 covers
    assert plans_round("a2", view, 10, {"a0": 3, "a1": 4}, since=0)
    # a smaller id that left ran until round 9: a1 was not expected to plan, a2 waits
    assert not plans_round("a2", {"a1", "a2"}, 10, {"a0": 9}, since=0)
    assert plans_round("a2", view, 10, {"a3": 9}, since=0)  # runs of larger ids: no matter


def test_one_plan_per_round_even_with_duplicates_and_late_copies():
    gate, refused = _gate()
    plan = AllocationPlan(7, "a1")
    assert gate.consider(plan, "a1")
    assert gate.consider(plan, "a1")  # duplicate delivery
    assert gate.take(7, _any) == plan
    assert gate.take(7, _any) is None
    assert not gate.consider(plan, "a1")  # late copy
    assert gate.executed(7) == "a1" and gate.last_run == {"a1": 7}
    assert refused == [("a1", "round closed")]


def test_the_smallest_planner_within_the_offers_is_taken_and_forgeries_never():
    gate, refused = _gate()
    assert not gate.consider(AllocationPlan(3, "-"), "a9")  # names someone else: forged
    assert not gate.consider(AllocationPlan(3, "a1"), "a9")  # in the planner's name
    for planner in ("a2", "a0", "a1"):
        assert gate.consider(AllocationPlan(3, planner), planner)
    checked = []

    def within(plan) -> bool:  # a0's plan exceeds the offers
        checked.append(plan.planner)
        return plan.planner != "a0"

    assert gate.take(3, within).planner == "a1"
    assert checked == ["a0", "a1"]  # in order of ids, up to the first within the offers
    assert refused == [("a9", "forged planner"), ("a9", "forged planner"),
                       ("a2", "not the smallest planner")]  # fmt: skip
    assert gate.last_run == {"a1": 3}
    gate.forget({"a0", "a2"})
    assert gate.last_run == {}


def test_a_round_without_a_plan_within_the_offers_executes_nothing_and_stays_closed():
    gate, _ = _gate()
    gate.consider(AllocationPlan(4, "a2"), "a2")
    assert gate.take(4, lambda plan: False) is None
    assert not gate.consider(AllocationPlan(4, "a1"), "a1")
    assert gate.executed(4) is None and gate.last_run == {}


OFFERS = {
    "s": EnergyOffer(50.0, 0.0, (0.0, 0.0, 0.0)),
    "t": EnergyOffer(0.0, 40.0, (10.0, 0.0, 0.0)),
    "u": EnergyOffer(0.0, 0.0),
}
COSTS = TransferCosts()


@pytest.mark.parametrize(
    ("transfers", "match"),
    [
        ((Transfer("s", "sink-x", 1.0),), "'sink-x', which made no offer"),
        ((Transfer("ghost", "t", 1.0),), "'ghost', which made no offer"),
        ((Transfer("s", "t", 1e30),), "asks s for 1e\\+30 J, its offer was 50 J"),
        ((Transfer("s", "t", 30.0), Transfer("s", "u", 30.0)), "asks s for 60 J"),
        ((Transfer("t", "s", 1.0),), "asks t for 1 J, its offer was 0 J"),
        ((Transfer("s", "t", 49.0),), "delivers .* to t, which asked for 40 J"),
    ],
)
def test_a_plan_beyond_the_offers_is_refused(transfers, match):
    with pytest.raises(PlanError, match=match):
        check_plan(AllocationPlan(1, "p", transfers), OFFERS, COSTS)


def test_a_receiver_takes_in_what_its_supplier_reported_bounded_by_plan_and_deficit():
    plan = AllocationPlan(1, "p", (Transfer("s", "t", 40.0),))
    check_plan(plan, OFFERS, COSTS)  # 40 J sent, less than 40 J arrive: within both
    send = row_of(plan, "s")
    assert dict(send.targets) == {"t": 40.0}
    nothing = column_of(plan, "t", OFFERS, COSTS, {})
    assert nothing.sent_j == nothing.delivered_j == 0.0 and 0 < nothing.planned_j < 40.0
    half = column_of(plan, "t", OFFERS, COSTS, {"s": sent_report(send, "s", 20.0)})
    assert half.sent_j == pytest.approx(20.0)
    assert half.delivered_j == pytest.approx(nothing.planned_j / 2)
    boast = TransferReport(1, "p", (Transfer("s", "t", 1e30),))  # says it sent more
    capped = column_of(plan, "t", OFFERS, COSTS, {"s": boast})
    assert capped.sent_j == pytest.approx(40.0) and capped.delivered_j <= 40.0
    other = TransferReport(1, "p", (Transfer("s", "u", 40.0),))  # sent, but to someone else
    assert column_of(plan, "t", OFFERS, COSTS, {"s": other}).sent_j == 0.0
