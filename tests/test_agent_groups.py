"""Grouping: every agent derives the same OT-balanced groups from the offers it heard,
re-groups when a member leaves, and the alignment exchange runs the two-level
consensus over them (in-process swarm: real links, codec, coordinators; each agent
ticks as the agent loop's coordinate and publish stages do)."""

from __future__ import annotations

import numpy as np

from otswarm.agent.groups import Grouping
from otswarm.coordination import AlignmentExchange, AllocationRound
from otswarm.coordination.quantile import max_pairwise_w1
from otswarm.link.inprocess import InProcessBus

LEVELS = np.linspace(0.0, 1.0, 5)


def _swarm(bus, names, positions, capacity, seed=0):
    policies = np.random.default_rng(seed).dirichlet(np.full(LEVELS.size, 0.5), len(names))
    agents = []
    for name, position, policy in zip(names, positions, policies, strict=True):
        link = bus.link(name)
        alignment = AlignmentExchange(link, LEVELS, anchor=0.0).start()
        allocation = AllocationRound(link, position_m=position).start()
        link.start()
        alignment.align(policy)
        agents.append((name, alignment, allocation, Grouping(name, capacity, position)))
    return agents


def _round(bus, agents, r):
    """One tick of every agent: groups from last round's offers, move, publish."""
    out = {}
    for name, alignment, allocation, grouping in agents:
        groups = grouping.update(allocation.offers(r - 1))
        alignment.set_groups(groups)
        moved = alignment.move(r)
        head = None if groups is None else groups.head_of(name)
        out[name] = (None if groups is None else groups.label_of(name), head, moved)
        alignment.publish(r)
        allocation.publish(allocation.decide(r, 0.0, 0.0), 0.0)
    bus.flush()
    return out


def _spread(agents) -> float:
    return max_pairwise_w1([alignment.aligner.state for _, alignment, _, _ in agents], LEVELS)


def test_all_agents_agree_on_groups_and_regroup_when_one_leaves():
    bus = InProcessBus("groups", seed=2)
    names = [f"n{i:02d}" for i in range(7)]
    # two sites 100 m apart: the balanced groups of at most 4 follow the sites
    positions = [(0.0, float(i), 0.0) for i in range(4)] + [
        (100.0, float(i), 0.0) for i in range(3)
    ]
    agents = _swarm(bus, names, positions, capacity=4)
    for r in range(1, 4):
        ticks = _round(bus, agents, r)
    heads = {head for _, head, _ in ticks.values()}
    assert len(heads) == 2  # 7 agents, groups of <= 4
    by_label = {}
    for name, (label, _, _) in ticks.items():
        by_label.setdefault(label, set()).add(name)
    assert sorted(map(sorted, by_label.values())) == [names[:4], names[4:]]
    for _, alignment, _, grouping in agents:
        assert alignment.groups is grouping.clustering  # the exchange runs these groups
    # the two-level consensus: a member moves toward its head's swarm barycenter only
    for name, (_, head, moved) in ticks.items():
        if name == head:  # its 2 or 3 members' states and the other head's barycenter
            assert 2 <= moved.neighbours_heard <= 4
        else:
            assert moved.neighbours_heard == 1
    spread0 = _spread(agents)
    for r in range(4, 14):
        _round(bus, agents, r)
    assert _spread(agents) < 0.05 * spread0

    # one agent leaves: six remain, still above capacity, and everyone re-groups alike
    gone = agents.pop()
    gone[1].link.close()
    for r in range(14, 17):
        _round(bus, agents, r)
    clusterings = [g.clustering for _, _, _, g in agents]
    assert "n06" not in {a for c in clusterings for a in c.ids}
    assert len({tuple(sorted(c.ids)) for c in clusterings}) == 1
    assert len({c.heads for c in clusterings}) == 1
    bus.close()


def test_a_swarm_within_capacity_aligns_with_everyone():
    bus = InProcessBus("small", seed=3)
    names = [f"s{i}" for i in range(3)]
    agents = _swarm(bus, names, [(0.0, float(i), 0.0) for i in range(3)], capacity=4)
    for r in range(1, 4):
        ticks = _round(bus, agents, r)
    assert {(label, head) for label, head, _ in ticks.values()} == {(None, None)}
    assert all(alignment.groups is None for _, alignment, _, _ in agents)
    assert {moved.neighbours_heard for _, _, moved in ticks.values()} == {2}
    bus.close()


def test_the_first_round_has_no_groups_and_an_own_position_fills_a_missing_offer():
    grouping = Grouping("a0", 2, (5.0, 0.0, 0.0))
    assert grouping.update({}) is None  # nobody heard yet: one group, itself

    class Offer:
        def __init__(self, x):
            self.position_m = (x, 0.0, 0.0)

    offers = {"a1": Offer(0.0), "a2": Offer(100.0), "a3": Offer(101.0)}  # not its own
    groups = grouping.update(offers)
    assert set(groups.ids) == {"a0", "a1", "a2", "a3"}
    assert groups.label_of("a0") == groups.label_of("a1")  # placed at its own 5 m
    assert grouping.update(dict(offers)) is groups  # same view: not re-clustered
