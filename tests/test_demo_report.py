"""The report's swarm figures from tick records: spread, energy moved, planners, exactly-once."""

from __future__ import annotations

import json

import pytest

from otswarm.agent.record import TickRecord
from otswarm.demo.report import (
    allocation_exactly_once,
    rounds_table,
    spread_start_end,
    w1_to_swarm_barycenter,
)

SUPPORT = [0.0, 0.25, 0.5, 0.75, 1.0]
DIRAC = {x: [1.0 if s == x else 0.0 for s in SUPPORT] for x in SUPPORT}


def _tick(agent, rnd, state, given=0.0, planner=None, plan_round=None):
    rec = TickRecord(agent=agent, tick=rnd, round=rnd, t=float(rnd), aligned_probs=state)
    rec.given_j, rec.planner, rec.plan_round = given, planner, plan_round
    return vars(rec)


def test_spread_is_the_largest_pairwise_w1_and_planners_are_grouped_by_plan_round():
    records = {
        "a": [_tick("a", 1, DIRAC[0.0]), _tick("a", 3, DIRAC[0.5], 2.0, "a", 1)],
        "b": [_tick("b", 1, DIRAC[1.0]), _tick("b", 3, DIRAC[0.5], 0.0, "a", 1)],
        "c": [_tick("c", 1, DIRAC[0.25])],
    }
    rounds = rounds_table(records, SUPPORT)
    # W1 between point masses is the distance between the points (duty units)
    assert [r["alignment_spread"] for r in rounds] == pytest.approx([1.0, 0.0])
    assert [r["members_alive"] for r in rounds] == [3, 2]
    assert rounds[0]["planners"] == ["a"]  # the plan of round 1, executed in round 3
    assert rounds[1]["energy_moved_j"] == 2.0
    assert spread_start_end(rounds) == (pytest.approx(1.0), pytest.approx(0.5))
    # barycenter of Diracs at 0, 1 and 0.25 is the Dirac at their mean, 5/12
    w1 = w1_to_swarm_barycenter(records, SUPPORT)
    assert w1["a"][0] == pytest.approx(5 / 12, abs=1e-9)
    assert w1["a"][1] == pytest.approx(0.0)


def test_two_planners_for_one_round_or_a_plan_run_twice_is_not_exactly_once():
    agents = {"a": {"allocation": {"plans_executed_twice": 0}}}
    assert allocation_exactly_once([{"planners": ["a"]}], agents)
    assert not allocation_exactly_once([{"planners": ["a", "b"]}], agents)
    agents["a"]["allocation"]["plans_executed_twice"] = 1
    assert not allocation_exactly_once([{"planners": ["a"]}], agents)


def test_energy_plot_shows_the_sub_joule_components_next_to_the_idle_baseline():
    """Demo-like ledgers: ~123 J idle, < 1 J of work. The second panel leaves idle out
    and scales to the work, so each component's bar is a visible part of the axis."""
    import matplotlib.pyplot as plt

    from otswarm.demo.clock import BoardClock
    from otswarm.demo.collect import MOVED, SPENT
    from otswarm.demo.plots import energy_plot

    work = {"ot": 0.05, "policy": 0.01, "mqtt_tx": 0.09, "mqtt_rx": 0.67, "serial": 0.03}
    report = {
        "energy_components": [*SPENT, *MOVED],
        "energy_clock": BoardClock(240.0, 0.0).describe(),
        "agents": {
            f"a{i}": {"energy_j": {**work, "idle": 123.0, "energy_out": 200.0}} for i in range(3)
        },
    }
    fig = energy_plot(report)
    try:
        everything, no_idle = fig.axes
        labels = [c.get_label() for c in no_idle.containers]
        assert labels == ["ot", "policy", "mqtt_tx", "mqtt_rx", "serial"]
        axis_mj = no_idle.get_xlim()[1]
        for container in no_idle.containers:  # the smallest (policy, 10 mJ) is >= 1 % of it
            assert min(bar.get_width() for bar in container) >= 0.01 * axis_mj
        assert everything.get_xlim()[1] > 123.0  # the first panel still shows the whole
        assert everything.get_xlabel() == "energy (J, board clock)"
    finally:
        plt.close(fig)


def test_agent_figures_report_what_moved_and_what_the_plan_said():
    """A full battery took 1 J of the 4.6 J its plan delivered: the report says both."""
    from otswarm.demo.report import agent_figures

    line = vars(TickRecord(agent="a", tick=0, round=3, t=3.0, planner="a", plan_round=1))
    line.update(given_j=2.0, plan_given_j=5.0, received_j=1.0, plan_received_j=4.6)
    allocation = agent_figures([line], [])["allocation"]
    assert (allocation["given_j"], allocation["plan_given_j"]) == (2.0, 5.0)
    assert (allocation["received_j"], allocation["plan_received_j"]) == (1.0, 4.6)


def test_checks_that_saw_nothing_do_not_pass():
    from otswarm.demo.report import ledgers_match

    assert not allocation_exactly_once([], {})  # no round ticked: nothing was checked
    assert not ledgers_match({})
    assert not ledgers_match({"a": {"ledger_consistent": None}})  # killed: not comparable
    assert ledgers_match({"a": {"ledger_consistent": True}, "b": {"ledger_consistent": None}})
    assert not ledgers_match({"a": {"ledger_consistent": True}, "b": {"ledger_consistent": False}})


def test_demo_on_a_refusing_broker_fails_its_checks_and_exits_non_zero(tmp_path):
    """No agent can join the broker, so none ticks: the demo must not say its checks passed."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "demo"
    demo = subprocess.run(
        [sys.executable, "-m", "otswarm.cli", "demo", "--agents", "1", "--duration", "2",
         "--broker", f"mqtt://127.0.0.1:{port}", "--out", str(out)],
        capture_output=True, text=True, timeout=180, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    assert report["agents"] == {}
    assert report["checks"] and not any(report["checks"].values()), report["checks"]
    assert sorted(report["unchecked"]) == sorted(report["checks"])
    assert demo.returncode != 0, demo.stdout
    assert ": yes" not in demo.stdout and "NO (nothing was checked)" in demo.stdout, demo.stdout
