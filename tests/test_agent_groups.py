"""Grouping: every agent derives the same OT-balanced groups from the offers it heard,
and re-groups when a member leaves (in-process swarm: real links, codec, coordinators)."""

from __future__ import annotations

import numpy as np

from otswarm.agent.groups import Grouping
from otswarm.coordination import AlignmentExchange, AllocationRound
from otswarm.link.inprocess import InProcessBus

LEVELS = np.linspace(0.0, 1.0, 5)


def _swarm(bus, names, positions, capacity):
    agents = []
    for name, position in zip(names, positions, strict=True):
        link = bus.link(name)
        alignment = AlignmentExchange(link, LEVELS).start()
        allocation = AllocationRound(link, position_m=position).start()
        grouping = Grouping(name, allocation, alignment, link, capacity, position)
        link.start()
        alignment.align(np.full(LEVELS.size, 1.0 / LEVELS.size))
        agents.append((name, (alignment, allocation), grouping))
    return agents


def _round(bus, agents, r):
    groups = {name: grouping.update(r) for name, _, grouping in agents}
    for _, (alignment, allocation), _ in agents:
        alignment.round(r)
        allocation.publish(allocation.decide(r, 0.0, 0.0), 0.0)
    bus.flush()
    return groups


def test_all_agents_agree_on_groups_and_regroup_when_one_leaves():
    bus = InProcessBus("groups", seed=2)
    names = [f"n{i:02d}" for i in range(7)]
    # two sites 100 m apart: the balanced groups of at most 4 follow the sites
    positions = [(0.0, float(i), 0.0) for i in range(4)] + [
        (100.0, float(i), 0.0) for i in range(3)
    ]
    agents = _swarm(bus, names, positions, capacity=4)
    for r in range(1, 4):
        groups = _round(bus, agents, r)
    heads = {g[1] for g in groups.values()}
    assert len(heads) == 2  # 7 agents, groups of <= 4
    by_label = {}
    for name, (label, _) in groups.items():
        by_label.setdefault(label, set()).add(name)
    assert sorted(map(sorted, by_label.values())) == [names[:4], names[4:]]
    for name, (alignment, _), grouping in agents:
        assert set(alignment.neighbours) == set(grouping.clustering.neighbours(name))

    # one agent leaves: six remain, still above capacity, and everyone re-groups alike
    gone = agents.pop()
    gone[1][0].link.close()
    for r in range(4, 7):
        groups = _round(bus, agents, r)
    assert "n06" not in {a for _, _, g in agents for a in g.clustering.ids}
    assert len({tuple(sorted(g.clustering.ids)) for _, _, g in agents}) == 1
    bus.close()


def test_a_swarm_within_capacity_aligns_with_everyone():
    bus = InProcessBus("small", seed=3)
    names = [f"s{i}" for i in range(3)]
    agents = _swarm(bus, names, [(0.0, float(i), 0.0) for i in range(3)], capacity=4)
    for r in range(1, 4):
        groups = _round(bus, agents, r)
    assert set(groups.values()) == {(None, None)}
    assert all(alignment.neighbours is None for _, (alignment, _), _ in agents)
    bus.close()
