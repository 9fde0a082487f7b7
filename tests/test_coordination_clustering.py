"""Balanced OT clustering and the two-level consensus on an in-process swarm (real
links, codec)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from otswarm.coordination.clustering import balanced_assignment, cluster, recluster
from otswarm.coordination.errors import CoordinationError
from otswarm.coordination.exchange import AlignmentExchange
from otswarm.coordination.hierarchy import CLUSTER, MEMBER, SWARM, ClusterNode
from otswarm.coordination.quantile import barycenter_1d, max_pairwise_w1, w1_to_all
from otswarm.link.inprocess import InProcessBus

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


def _two_level(names, clustering, policies, *, step, drop=0.0, seed=0):
    """Exchanges running the two-level consensus over ``clustering``, each listening
    only to its cluster's senders (``neighbours=()``: no wildcard), anchor 0."""
    bus = InProcessBus("tiers", seed=seed, drop=drop)
    swarm = []
    for name, policy in zip(names, policies, strict=True):
        link = bus.link(name, track_members=False)
        exchange = AlignmentExchange(link, LEVELS, neighbours=(), step=step, anchor=0.0)
        exchange.set_groups(clustering)
        link.start()
        exchange.start()
        exchange.align(policy)
        swarm.append(exchange)
    return bus, swarm


def test_two_level_targets_are_the_swarm_barycenter():
    """States held still (step 0): after a few rounds every head's target is the
    barycenter of all the states, and every member moves toward its own head's."""
    ids, x = _swarm(60, seed=2)
    c = cluster(ids, x, capacity=8)
    states = np.random.default_rng(3).dirichlet(np.full(LEVELS.size, 0.6), size=len(c.ids))
    _, swarm = _two_level(c.ids, c, states, step=0.0)
    for r in range(5):  # member -> head -> heads -> member: settled after three
        for exchange in swarm:
            exchange.round(r)
    direct = barycenter_1d(states, LEVELS)
    heads = {e.me: e for e in swarm if e.me in c.heads}
    targets = np.array([e.peer_states()[0] for e in heads.values()])
    # the same mean (binning keeps means), the same histogram up to two levels of
    # binning (< 0.1 of a gap) and the uint16 wire weights between heads (< 1e-4)
    assert np.allclose(targets @ LEVELS, direct @ LEVELS, atol=1e-4)
    assert max(w1_to_all(targets, direct, LEVELS)) < 0.025
    assert max_pairwise_w1(targets, LEVELS) < 1e-4
    for exchange in swarm:
        if exchange.me not in heads:
            heard = [exchange.peer_states()[0], heads[c.head_of(exchange.me)].peer_states()[0]]
            assert max_pairwise_w1(heard, LEVELS) < 1e-4


def test_two_level_consensus_converges_with_O_N_messages():
    ids, x = _swarm(60, seed=2)
    c = cluster(ids, x, capacity=8)
    states = np.random.default_rng(3).dirichlet(np.full(LEVELS.size, 0.6), size=len(c.ids))
    _, swarm = _two_level(c.ids, c, states, step=0.5)
    spread = [max_pairwise_w1(states, LEVELS)]
    start = sum(e.link.stats().received_messages for e in swarm)
    for r in range(12):
        for exchange in swarm:
            exchange.round(r)
        spread.append(max_pairwise_w1([e.aligner.state for e in swarm], LEVELS))
    n, k = len(ids), len(c.heads)
    received = sum(e.link.stats().received_messages for e in swarm) - start
    assert received == 12 * (3 * (n - k) + 2 * k * (k - 1))  # see the hierarchy module doc
    assert spread[-1] < 1e-2 * spread[0]


def test_two_level_consensus_survives_message_loss():
    ids, x = _swarm(40, seed=4)
    c = cluster(ids, x, capacity=7)
    states = np.random.default_rng(5).dirichlet(np.full(LEVELS.size, 0.6), size=len(c.ids))
    _, swarm = _two_level(c.ids, c, states, step=0.5, drop=0.1, seed=1)
    spread = [max_pairwise_w1(states, LEVELS)]
    for r in range(20):
        for exchange in swarm:
            exchange.round(r)
        spread.append(max_pairwise_w1([e.aligner.state for e in swarm], LEVELS))
    assert spread[-1] < 1e-2 * spread[0]


def test_a_cluster_node_keeps_only_what_its_role_uses():
    """A forged target from anyone but the head, a state from outside the cluster,
    a level the role does not use: none of them reaches the consensus."""
    ids, x = _swarm(20, seed=6)
    c = cluster(ids, x, capacity=5)
    head = c.heads[0]
    member = next(a for a in c.members(0) if a != head)
    stranger = next(a for a in c.ids if c.label_of(a) != 0 and a not in c.heads)
    forged = np.eye(LEVELS.size)[-1]
    node = ClusterNode(member, c, LEVELS)
    assert node.senders == [head]
    assert not node.receive(stranger, SWARM, 0, forged)  # only the head gives the target
    assert not node.receive(c.heads[1], SWARM, 0, forged)  # another cluster's head
    assert not node.receive(head, CLUSTER, 0, forged)  # members do not use this level
    assert node.target(forged, 0) == (None, 0)
    assert node.receive(head, SWARM, 0, np.full(LEVELS.size, 0.2))
    target, heard = node.target(forged, 1)
    assert heard == 1 and np.allclose(target, 0.2)
    assert node.target(forged, 4) == (None, 0)  # older than max_age rounds: dropped

    lead = ClusterNode(head, c, LEVELS)
    own = np.full(LEVELS.size, 0.2)
    assert not lead.receive(stranger, MEMBER, 0, forged)  # not one of its members
    assert not lead.receive(member, CLUSTER, 0, forged)  # a member is not a head
    assert lead.receive(member, MEMBER, 0, own)
    target, heard = lead.target(own, 0)
    assert heard == 1 and np.allclose(target, own)


def test_a_node_outside_its_clustering_is_refused():
    ids, x = _swarm(10)
    with pytest.raises(CoordinationError):
        ClusterNode("zz-not-there", cluster(ids, x, capacity=4), LEVELS)
