"""Alignment and allocation on a live in-process swarm (real links, codec, ledger)."""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.coordination.quantile import max_pairwise_w1
from otswarm.coordination.swarm import SwarmCoordinator
from otswarm.energy import EnergyLedger, LedgerReader, ledger_path, load_profile
from otswarm.link.inprocess import InProcessBus

LEVELS = np.linspace(0.0, 1.0, 5)


def _ring_with_chords(n):
    """A sparse connected graph: each agent hears its ring neighbours and the ones 3 away."""
    names = [f"a{i:02d}" for i in range(n)]
    return names, {names[i]: [names[(i + k) % n] for k in (-3, -1, 1, 3)] for i in range(n)}


@pytest.mark.parametrize("drop", [0.0, 0.1])
def test_alignment_spread_shrinks_geometrically_when_the_anchors_agree(drop):
    """States seeded from different policies; then every board's policy says the same."""
    bus = InProcessBus("align", seed=5, drop=drop)
    names, graph = _ring_with_chords(12)
    rng = np.random.default_rng(0)
    policies = rng.dirichlet(np.full(LEVELS.size, 0.5), size=len(names))
    common = rng.dirichlet(np.full(LEVELS.size, 0.5))
    swarm = []
    for name in names:
        link = bus.link(name, track_members=False).start()
        swarm.append(SwarmCoordinator(link, LEVELS, neighbours=graph[name], step=0.5).start())
    for coord, policy in zip(swarm, policies, strict=True):
        coord.align(policy)
        coord.round(0, 0.0, 0.0)  # consensus seeded from each board's own, different policy
        for _ in range(60):
            coord.align(common)  # the anchors m_i become equal (EMA rate 0.5: 2^-60 apart)
    spread = [max_pairwise_w1([c.aligner.state for c in swarm], LEVELS)]
    for r in range(1, 81):
        for coord in swarm:
            coord.round(r, 0.0, 0.0)
        spread.append(max_pairwise_w1([c.aligner.state for c in swarm], LEVELS))
    spread = np.array(spread)
    assert spread[0] > 0.2  # the seeds really disagree
    # contraction <= 1 - (1-eta) lam = 0.9 per round toward the common anchor (0.9^10 = 0.35,
    # spread <= 2 max_i W1(s_i, m) gives the rest); wire weights are uint16: floor ~1e-4
    for r in range(len(spread) - 10):
        if spread[r] > 1e-4:
            assert spread[r + 10] <= 0.7 * spread[r], (r, spread[r], spread[r + 10])
    assert spread[-1] <= 1e-3 * spread[0]
    # the live policy is pushed onto the consensus state: its output is the state
    for coord in swarm:
        np.testing.assert_allclose(coord.align(common), coord.aligner.state, atol=1e-9)
        assert max_pairwise_w1([coord.aligner.state, common], LEVELS) < 1e-3


def _energy_agent(bus, name, tmp_path, rng):
    link = bus.link(name).start()
    ledger = EnergyLedger(ledger_path(tmp_path, name), name, load_profile("rpi4"), start=False)
    position = (*rng.uniform(0, 30, 2), 0.0)
    # min_move_per_solve=0: plan every round, whatever a (possibly compiling) solve costs
    coord = SwarmCoordinator(
        link, LEVELS, position_m=position, ledger=ledger, min_move_per_solve=0.0
    ).start()
    return coord, ledger


def test_exactly_one_plan_per_round_while_the_planner_dies_and_a_smaller_id_joins(tmp_path):
    bus = InProcessBus("energy", seed=1)
    rng = np.random.default_rng(2)
    supply = {"a1": 6.0, "a2": 5.0, "a0": 4.0}
    names = ["a1", "a2", "a3", "a4", "a5", "a6"]
    agents = {n: _energy_agent(bus, n, tmp_path, rng) for n in names}
    executed: dict[int, dict[str, object]] = {}
    received: dict[int, dict[str, object]] = {}
    for r in range(14):
        if r == 6:
            coord, ledger = agents.pop("a1")
            coord.link.kill()
            ledger.close()
        if r == 9:
            agents["a0"] = _energy_agent(bus, "a0", tmp_path, rng)
        for name in sorted(agents):
            report = agents[name][0].round(r, supply.get(name, 0.0), 0.0 if name in supply else 2.0)
            if report.sent is not None:
                executed.setdefault(report.sent.round, {})[name] = report.sent
            if report.received is not None:
                received.setdefault(report.received.round, {})[name] = report.received
    expected = {r: "a1" for r in range(5)} | {r: "a2" for r in range(6, 9)}
    expected |= {r: "a0" for r in range(9, 12)}
    planners = {r: {p.planner for p in parts.values()} for r, parts in executed.items()}
    assert planners == {r: {p} for r, p in expected.items()}  # round 5's planner died
    for r, parts in executed.items():
        # plan r is executed at round r + 2: a1 is dead from round 6, a0 in plans from 9
        members = set(names[1:]) | ({"a1"} if r + 2 < 6 else set())
        members |= {"a0"} if r >= 9 else set()
        assert set(parts) == members  # every member executed it, once
        sent = sum(p.joules for p in parts.values())
        assert sent > 0
        if r + 3 < 14:  # received one round later, only from senders alive after sending
            incoming = sum(p.joules for p in received[r].values())
            assert incoming == pytest.approx(sent, rel=1e-6)
    booked_out = {
        n: sum(parts[n].joules for parts in executed.values() if n in parts) for n in agents
    }
    for name, (_, ledger) in agents.items():
        ledger.flush()
        totals = LedgerReader(ledger_path(tmp_path, name)).totals(name).get(name, {})
        assert totals.get("energy_out", 0.0) == pytest.approx(booked_out[name], rel=1e-6)
        ledger.close()


def test_live_policy_outputs_are_aligned_and_keep_their_order():
    """The shipped int8 harvest policy on six boards in different conditions."""
    from otswarm.policy import HARVEST_DUTY_LEVELS, Policy, build_observation

    policy = Policy.load_default("harvest")
    levels = np.array(HARVEST_DUTY_LEVELS)
    bus = InProcessBus("live", seed=3, drop=0.1)
    conditions = [(0.1, 2.0), (0.1, 12.0), (0.3, 0.0), (0.4, 6.0), (0.7, 1.0), (0.2, 20.0)]
    swarm = [
        SwarmCoordinator(bus.link(f"b{i}", track_members=False).start(), levels, step=0.5).start()
        for i in range(len(conditions))
    ]
    rng = np.random.default_rng(4)

    def tick_outputs():
        raw, aligned = [], []
        for coord, (soc, harvest) in zip(swarm, conditions, strict=True):
            quantities = {
                "battery_soc": soc,
                "harvest_w": max(0.0, harvest + rng.normal(0, 0.5)),
                "load_w": 3.0,
                "hour_of_day": 12.0,
                "duty": 0.5,
                "received_w": 0.0,
            }
            probs = policy.action_probabilities(build_observation(quantities))
            raw.append(probs)
            aligned.append(coord.align(probs))
        return np.array(raw), np.array(aligned)

    raw_rounds, aligned_rounds = [], []
    for r in range(1, 26):
        ticks = [tick_outputs() for _ in range(8)]
        raw_rounds.append(np.mean([t[0] for t in ticks], axis=0))
        aligned_rounds.append(np.mean([t[1] for t in ticks], axis=0))
        for coord in swarm:
            coord.round(r, 0.0, 0.0)
    raw_spread = max_pairwise_w1(raw_rounds[-1], levels)
    aligned_spread = max_pairwise_w1(aligned_rounds[-1], levels)
    assert raw_spread > 0.3  # the conditions really make the policies disagree
    assert aligned_spread < 0.15 * raw_spread  # realised marginals agree (EMA lag leaves a bit)
    # the monotone map keeps each board's own order: more duty raw -> more duty aligned
    coord = swarm[0]
    low, high = np.eye(5)[1], np.eye(5)[3]
    assert np.all(np.cumsum(coord.align(high)) <= np.cumsum(coord.align(low)) + 1e-12)


def test_cluster_neighbours_set_after_start_still_reach_consensus():
    from otswarm.coordination import cluster

    bus = InProcessBus("groups", seed=6, drop=0.1)
    rng = np.random.default_rng(6)
    names = [f"g{i:02d}" for i in range(18)]
    groups = cluster(names, rng.uniform(0, 100, (18, 2)), capacity=6)
    policies = rng.dirichlet(np.full(LEVELS.size, 0.5), size=len(names))
    swarm = []
    for name, policy in zip(names, policies, strict=True):
        link = bus.link(name, track_members=False)
        # anchor 0 (pure DeGroot): this is about the neighbour wiring, so the states
        # must go all the way to one consensus, not to an anchored equilibrium
        coord = SwarmCoordinator(link, LEVELS, step=0.5, anchor=0.0).start()  # everyone, at first
        link.start()
        coord.align(policy)
        coord.set_neighbours(groups.neighbours(name))
        swarm.append(coord)
    spread = [max_pairwise_w1(policies, LEVELS)]
    for r in range(1, 41):
        reports = [coord.round(r, 0.0, 0.0) for coord in swarm]
        spread.append(max_pairwise_w1([c.aligner.state for c in swarm], LEVELS))
    for name, report in zip(names, reports, strict=True):
        assert report.neighbours_heard <= len(groups.neighbours(name))
    # geometric, but slower than all-to-all: groups meet only through their heads
    assert spread[40] < 0.5 * spread[20] and spread[40] < 0.1 * spread[0]


def test_coordinator_refuses_bad_configuration():
    from otswarm.coordination.errors import HistogramError, PlanError

    bus = InProcessBus("bad")
    with pytest.raises(PlanError):
        SwarmCoordinator(bus.link("x0"), [0.0, 0.5, 1.0], method="lottery")
    with pytest.raises(HistogramError):
        SwarmCoordinator(bus.link("x1"), [0.0, 0.2, 1.0])  # not equally spaced


def test_planner_skips_rounds_not_worth_the_solve(tmp_path):
    bus = InProcessBus("worth", seed=0)
    coords = {}
    for name in ("p0", "p1"):
        ledger = EnergyLedger(ledger_path(tmp_path, name), name, load_profile("rpi4"), start=False)
        link = bus.link(name, track_members=False)
        coords[name] = SwarmCoordinator(link, LEVELS, ledger=ledger).start()
        link.start()
    planned = []
    for r in range(8):
        supply = 1e-6 if r < 4 else 5.0  # a microjoule is not worth a plan; 5 J are
        reports = {n: c.round(r, supply if n == "p0" else 0.0, 0.0 if n == "p0" else supply)
                   for n, c in coords.items()}  # fmt: skip
        planned.append(reports["p0"].planned)
    # two solves are measured first (the first may include compiling the kernels); a
    # warm solve of this 1 x 1 plan costs between 1e-5 J (10 us) and 0.05 J (50 ms CPU),
    # so 1 uJ is never worth it and 5 J always is
    assert planned == [False, True, True, False, False, True, True, True]
    for coord in coords.values():
        coord.ledger.close()


def test_the_ledger_books_what_the_batteries_moved_not_what_the_plan_said(tmp_path, caplog):
    """The giver's battery drained below its offer, the taker's filled up: each books
    what its (simulated) battery reports it moved, and says how short it fell."""
    from otswarm.firmware_bridge.simulator.battery import Battery
    from otswarm.firmware_bridge.simulator.config import SimulatorConfig

    capacity = 100.0
    giver = Battery(SimulatorConfig(battery_capacity_j=capacity, initial_soc=0.02))  # 2 J
    taker = Battery(SimulatorConfig(battery_capacity_j=capacity, initial_soc=0.99))  # 1 J room
    bus = InProcessBus("short", seed=3)
    boards = {}
    for name, battery in (("g", giver), ("t", taker)):
        ledger = EnergyLedger(ledger_path(tmp_path, name), name, load_profile("rpi4"), start=False)
        coord = SwarmCoordinator(
            bus.link(name).start(), LEVELS, ledger=ledger, min_move_per_solve=0.0,
            transfer=battery.transfer,
        ).start()  # fmt: skip
        boards[name] = (coord, ledger)
    reports = {"g": [], "t": []}
    with caplog.at_level("WARNING", logger="otswarm.coordination.swarm"):
        for r in range(5):  # offers of round 0: planned at 1, sent at 2, received at 3
            for name, supply, demand in (("g", 6.0, 0.0), ("t", 0.0, 5.0)):
                supply, demand = (supply, demand) if r == 0 else (0.0, 0.0)
                reports[name].append(boards[name][0].round(r, supply, demand))
    sent = sum(rep.sent.joules for rep in reports["g"] if rep.sent is not None)
    delivered = sum(rep.received.delivered_j for rep in reports["t"] if rep.received is not None)
    assert sent > 5.0 and delivered == pytest.approx(5.0, rel=1e-6)  # 5 J asked, plus losses
    # what moved: the giver had 2 J, the taker room for 1 J (the rest is lost)
    assert sum(rep.given_j for rep in reports["g"]) == pytest.approx(2.0, abs=1e-9)
    assert sum(rep.taken_j for rep in reports["t"]) == pytest.approx(1.0, abs=1e-9)
    assert giver.energy_j == 0.0 and taker.energy_j == capacity
    for name, component, moved in (("g", "energy_out", 2.0), ("t", "energy_in", 1.0)):
        coord, ledger = boards[name]
        ledger.flush()
        totals = LedgerReader(ledger_path(tmp_path, name)).totals(name)[name]
        assert totals[component] == pytest.approx(moved, abs=1e-9)
        ledger.close()
    short = [r for r in caplog.records if getattr(r, "fields", {}).get("event") == "transfer_short"]
    assert {(r.fields["component"], round(r.fields["moved_j"], 6)) for r in short} == {
        ("energy_out", -2.0),
        ("energy_in", 1.0),
    }
