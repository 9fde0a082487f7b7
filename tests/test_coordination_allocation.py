"""OT energy allocation: feasible, near the exact optimum, compared with the baselines."""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.coordination.allocation import (
    evaluate,
    greedy_plan,
    gross_demand,
    ot_plan,
    proportional_plan,
)
from otswarm.coordination.costs import TransferCosts, distances, planning_cost, transfer_loss
from otswarm.coordination.errors import PlanError
from otswarm.ot import emd


def _instance(seed, n_sup=6, n_con=9, ratio=1.0):
    """Random agents on a 50 m square; ``ratio`` = total supply / total demand."""
    rng = np.random.default_rng(seed)
    supply = rng.uniform(1, 5, n_sup)
    demand = rng.uniform(1, 5, n_con)
    demand *= supply.sum() / demand.sum() / ratio
    costs = TransferCosts()
    dist = distances(rng.uniform(0, 50, (n_sup, 2)), rng.uniform(0, 50, (n_con, 2)))
    loss = transfer_loss(costs, dist)
    cost = planning_cost(costs, loss, rng.uniform(0, 1, n_con))
    return supply, demand, loss, cost


@pytest.mark.parametrize("ratio", [0.6, 1.0, 1.6])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plans_are_feasible(seed, ratio):
    supply, demand, loss, cost = _instance(seed, ratio=ratio)
    for plan in (
        ot_plan(supply, demand, loss, cost),
        greedy_plan(supply, demand, loss),
        proportional_plan(supply, demand, loss),
    ):
        assert np.all(plan >= 0)
        assert np.all(plan.sum(axis=1) <= supply * (1 + 1e-9))
        assert np.all((plan * (1 - loss)).sum(axis=0) <= demand * (1 + 1e-9))


def test_unbalanced_plan_serves_the_short_side_fully():
    for ratio in (0.6, 1.6):
        supply, demand, loss, cost = _instance(3, ratio=ratio)
        plan = ot_plan(supply, demand, loss, cost)
        out = evaluate(plan, supply, demand, loss, cost)
        short_side = min(supply.sum(), gross_demand(demand, loss).sum())
        assert out.moved_j == pytest.approx(short_side, rel=0.03)  # 3 passes leave < 3%


def test_balanced_plan_is_near_the_exact_optimum():
    supply, demand, loss, _ = _instance(4)
    gross = gross_demand(demand, loss)
    supply = supply * gross.sum() / supply.sum()
    exact = emd(supply / supply.sum(), gross / gross.sum(), loss).cost * supply.sum()
    plan = ot_plan(supply, demand, loss, passes=1)
    reg = 0.03 * np.ptp(loss)  # the default of ot_plan
    # entropic bias is at most reg * log(n m) per unit mass
    assert evaluate(plan, supply, demand, loss).cost <= exact + reg * np.log(54) * supply.sum()


def test_ot_wastes_less_than_proportional_and_is_fairer_than_greedy():
    wasted = {"ot": 0.0, "greedy": 0.0, "prop": 0.0}
    worst = {"ot": 0.0, "greedy": 0.0}
    for seed in range(8):
        supply, demand, loss, cost = _instance(10 + seed, ratio=0.7)
        plans = {
            "ot": ot_plan(supply, demand, loss, cost),
            "greedy": greedy_plan(supply, demand, loss),
            "prop": proportional_plan(supply, demand, loss),
        }
        for name, plan in plans.items():
            wasted[name] += evaluate(plan, supply, demand, loss).wasted_j
            if name in worst:
                short = 1 - (plan * (1 - loss)).sum(axis=0) / demand
                worst[name] = max(worst[name], short.max())
    assert wasted["ot"] < wasted["prop"]
    assert worst["ot"] < worst["greedy"]


def test_bad_offers_raise_plan_errors():
    supply, demand, loss, _ = _instance(5)
    with pytest.raises(PlanError):
        ot_plan(-supply, demand, loss)
    with pytest.raises(PlanError):
        ot_plan(supply, demand, loss[:, :-1])
    with pytest.raises(PlanError):
        transfer_loss(TransferCosts(line_loss_per_m=0.05), np.full((2, 2), 30.0))


def test_wire_plan_rows_reports_columns_and_refusals():
    from otswarm.coordination.plans import (
        build_plan,
        check_plan,
        column_of,
        row_of,
        sent_report,
    )
    from otswarm.summaries import EnergyOffer

    offers = {
        "s1": EnergyOffer(5.0, 0.0, (0.0, 0.0, 0.0)),
        "s2": EnergyOffer(4.0, 1.0, (10.0, 0.0, 0.0)),  # net supplier of 3 J
        "c1": EnergyOffer(0.0, 4.0, (5.0, 0.0, 0.0)),
        "c2": EnergyOffer(1.0, 3.0, (20.0, 0.0, 0.0), loss_fraction=0.02),  # net need 2 J
    }
    costs = TransferCosts()
    plan, outcome = build_plan(7, "c1", offers, costs)
    assert plan.round == 7 and plan.planner == "c1"
    check_plan(plan, offers, costs)  # the planner's own plan is within every offer
    rows = {a: row_of(plan, a) for a in offers}
    assert rows["s1"].joules <= 5.0 + 1e-5 and rows["s2"].joules <= 3.0 + 1e-5
    assert rows["c1"].joules == 0.0
    reports = {a: sent_report(rows[a], a, rows[a].joules) for a in ("s1", "s2")}  # all sent
    cols = {a: column_of(plan, a, offers, costs, reports) for a in ("c1", "c2")}
    assert sum(r.joules for r in rows.values()) == pytest.approx(
        sum(c.sent_j for c in cols.values()), rel=1e-6
    )
    assert sum(c.delivered_j for c in cols.values()) == pytest.approx(outcome.delivered_j, rel=1e-5)
    assert all(c.delivered_j == pytest.approx(c.planned_j) for c in cols.values())
    only_s1 = column_of(plan, "c1", offers, costs, {"s1": reports["s1"]}).sent_j
    assert only_s1 == pytest.approx(sum(t.joules for t in plan.transfers
                                        if t.source == "s1" and t.target == "c1"))  # fmt: skip
    with pytest.raises(PlanError):
        check_plan(plan, {**offers, "s1": EnergyOffer(0.1, 0.0)}, costs)  # row > the offer


@pytest.mark.parametrize("seed", range(6))
def test_the_solver_converges_on_demo_like_offers(seed, caplog):
    """``otswarm demo``'s swarm: 8 boards on a 10 m grid, offers of 0-240 J (2 W over a
    120 s board-clock round), the rpi4 profile's costs; the OT passes converge (a
    non-converged solve is logged by otswarm.ot and by the allocation)."""
    from otswarm.coordination.plans import build_plan
    from otswarm.energy import load_profile
    from otswarm.summaries import EnergyOffer

    rng = np.random.default_rng(seed)
    costs = TransferCosts.from_profile(load_profile("rpi4"))
    offers = {}
    for i in range(8):
        supply, demand = (rng.uniform(0, 240), 0.0) if i % 2 else (0.0, rng.uniform(0, 240))
        position = (10.0 * (i % 3), 10.0 * (i // 3), 0.0)
        offers[f"agent-{i:02d}"] = EnergyOffer(supply, demand, position, 0.0, 128)
    with caplog.at_level("INFO", logger="runtime"):
        plan, outcome = build_plan(seed, "agent-00", offers, costs)
    unconverged = [r.getMessage() for r in caplog.records if "converge" in r.getMessage()
                   or "stopped after" in r.getMessage()]  # fmt: skip
    assert unconverged == []
    assert outcome.moved_j > 0 and plan.transfers
