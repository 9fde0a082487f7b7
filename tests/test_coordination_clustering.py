"""Balanced OT clustering and the two-level consensus on an in-process swarm."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from otswarm.coordination.clustering import balanced_assignment, cluster, recluster
from otswarm.coordination.errors import CoordinationError
from otswarm.coordination.hierarchy import ClusterNode
from otswarm.coordination.quantile import barycenter_1d, max_pairwise_w1, w1_to_all
from otswarm.link import InProcessBus

LEVELS = np.linspace(0.0, 1.0, 5)


def _swarm(n, seed=0):
    rng = np.random.default_rng(seed)
    return [f"a{i:03d}" for i in range(n)], rng.uniform(0, 100, (n, 2))


def _cost(x, centres, labels):
    return float(((x - centres[labels]) ** 2).sum())


@pytest.mark.parametrize("exact_limit", [10**9, 0])  # exact emd, then entropic + repair
def test_assignment_is_capacitated_and_near_the_lsa_optimum(exact_limit):
    rng = np.random.default_rng(1)
    x, centres = rng.uniform(0, 100, (60, 2)), rng.uniform(0, 100, (7, 2))
    labels = balanced_assignment(x, centres, capacity=9, exact_limit=exact_limit)
    assert np.bincount(labels, minlength=7).max() <= 9
    rows, cols = linear_sum_assignment(((x[:, None] - np.repeat(centres, 9, 0)[None]) ** 2).sum(2))
    optimum = _cost(x[rows], centres, cols // 9)
    found = _cost(x, centres, labels)
    if exact_limit:
        assert found == pytest.approx(optimum, rel=1e-9)  # the LP's vertex is an assignment
    else:
        assert found <= 1.05 * optimum  # rounding + repair stays within 5% here


def test_clusters_are_bounded_and_headed_by_their_members():
    ids, x = _swarm(50)
    c = cluster(ids, x, capacity=8)
    assert len(c.heads) == 7 and c.sizes.max() <= 8 and c.sizes.sum() == 50
    for j, head in enumerate(c.heads):
        assert head in c.members(j)
    member = next(a for a in c.members(0) if a != c.heads[0])
    assert set(c.neighbours(member)) == set(c.members(0)) - {member}
    assert set(c.neighbours(c.heads[0])) >= set(c.heads[1:])


def test_reclustering_after_a_head_dies_and_agents_join():
    ids, x = _swarm(40)
    before = cluster(ids, x, capacity=8)
    dead = before.heads[0]
    keep = [i for i, a in enumerate(ids) if a != dead]
    new_ids = [ids[i] for i in keep] + ["b000", "b001", "b002"]
    new_x = np.vstack([x[keep], [[5, 5], [95, 95], [50, 50]]])
    after = recluster(before, new_ids, new_x)
    assert dead not in after.heads and dead not in after.ids
    assert len(after.heads) == 6 and after.sizes.max() <= 8 and after.sizes.sum() == 42


def test_impossible_capacity_raises():
    with pytest.raises(CoordinationError):
        balanced_assignment(np.zeros((5, 2)), np.zeros((2, 2)), capacity=2)


def test_two_level_consensus_reaches_the_swarm_barycenter_with_O_N_messages():
    ids, x = _swarm(60, seed=2)
    c = cluster(ids, x, capacity=8)
    bus = InProcessBus("tiers", seed=0)
    rng = np.random.default_rng(3)
    states = rng.dirichlet(np.full(LEVELS.size, 0.6), size=len(c.ids))
    links = {a: bus.link(a, track_members=False).start() for a in c.ids}
    nodes = [ClusterNode(links[a], c, LEVELS, s) for a, s in zip(c.ids, states, strict=True)]
    start = sum(link.stats().received_messages for link in links.values())
    spread = [max_pairwise_w1(states, LEVELS)]
    for r in range(8):
        for phase in (ClusterNode.phase_up, ClusterNode.phase_heads, ClusterNode.phase_down):
            for node in nodes:
                phase(node, r)
        spread.append(max_pairwise_w1([node.move(0.5) for node in nodes], LEVELS))
        if r == 0:
            # every head targets the swarm barycenter: the same mean (binning keeps means),
            # the same histogram up to two levels of binning (< 0.1 of a gap) and the
            # uint16 wire weights between heads (< 1e-4)
            direct = barycenter_1d(states, LEVELS)
            targets = np.array([node.target for node in nodes if node.is_head])
            assert np.allclose(targets @ LEVELS, direct @ LEVELS, atol=1e-4)
            assert max(w1_to_all(targets, direct, LEVELS)) < 0.025
            assert max_pairwise_w1(targets, LEVELS) < 1e-4
    n, k = len(ids), len(c.heads)
    received = sum(link.stats().received_messages for link in links.values()) - start
    assert received == 8 * (3 * (n - k) + 2 * k * (k - 1))  # see the hierarchy module doc
    assert spread[-1] < 1e-2 * spread[0]  # (1 - 0.5)^8 = 0.004
