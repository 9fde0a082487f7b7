"""The planner rule, the exactly-once plan gate, and checking a plan against the offers."""

from __future__ import annotations

import pytest

from otswarm.coordination.costs import TransferCosts
from otswarm.coordination.errors import PlanError
from otswarm.coordination.planner import PlanGate, planner_of
from otswarm.coordination.plans import check_plan, column_of, row_of, sent_report
from otswarm.summaries import AllocationPlan, EnergyOffer, Transfer, TransferReport


def _gate():
    refused = []
    return PlanGate("a5", lambda sender, reason, detail: refused.append((sender, reason))), refused


def test_planner_is_the_smallest_id_of_the_view():
    assert planner_of({"a3", "a1", "a2"}) == "a1"
    assert planner_of([]) is None


def test_one_plan_per_round_even_with_duplicates_and_late_copies():
    gate, refused = _gate()
    plan = AllocationPlan(7, "a1")
    assert gate.consider(plan, "a1")
    assert gate.consider(plan, "a1")  # duplicate delivery
    assert gate.take(7, "a1") == plan
    assert gate.take(7, "a1") is None
    assert not gate.consider(plan, "a1")  # late copy
    assert gate.executed(7) == "a1"
    assert refused == [("a1", "round closed")]


def test_only_the_elected_planners_own_plan_is_taken():
    gate, refused = _gate()
    assert not gate.consider(AllocationPlan(3, "-"), "a9")  # names someone else: forged
    assert not gate.consider(AllocationPlan(3, "a1"), "a9")  # in the planner's name
    assert gate.consider(AllocationPlan(3, "a0"), "a0")  # a real plan, but not elected
    assert gate.consider(AllocationPlan(3, "a1"), "a1")
    assert gate.take(3, "a1").planner == "a1"
    assert refused == [("a9", "forged planner"), ("a9", "forged planner"),
                       ("a0", "not the elected planner")]  # fmt: skip


def test_a_round_without_the_elected_plan_executes_nothing_and_stays_closed():
    gate, _ = _gate()
    gate.consider(AllocationPlan(4, "a2"), "a2")
    assert gate.take(4, "a1") is None  # a1 elected, a1 sent nothing
    assert not gate.consider(AllocationPlan(4, "a1"), "a1")
    assert gate.executed(4) is None


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
