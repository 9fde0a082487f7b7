"""Alignment on a live in-process swarm (real links, codec)."""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.coordination.exchange import AlignmentExchange, histogram_message
from otswarm.coordination.quantile import max_pairwise_w1
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
        swarm.append(AlignmentExchange(link, LEVELS, neighbours=graph[name], step=0.5).start())
    for coord, policy in zip(swarm, policies, strict=True):
        coord.align(policy)
        coord.round(0)  # consensus seeded from each board's own, different policy
        for _ in range(60):
            coord.align(common)  # the anchors m_i become equal (EMA rate 0.5: 2^-60 apart)
    spread = [max_pairwise_w1([c.aligner.state for c in swarm], LEVELS)]
    for r in range(1, 81):
        for coord in swarm:
            coord.round(r)
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


def test_live_policy_outputs_are_aligned_and_keep_their_order():
    """The shipped int8 harvest policy on six boards in different conditions."""
    from otswarm.policy import HARVEST_DUTY_LEVELS, Policy, build_observation

    policy = Policy.load_default("harvest")
    levels = np.array(HARVEST_DUTY_LEVELS)
    bus = InProcessBus("live", seed=3, drop=0.1)
    conditions = [(0.1, 2.0), (0.1, 12.0), (0.3, 0.0), (0.4, 6.0), (0.7, 1.0), (0.2, 20.0)]
    swarm = [
        AlignmentExchange(bus.link(f"b{i}", track_members=False).start(), levels, step=0.5).start()
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
            coord.round(r)
    raw_spread = max_pairwise_w1(raw_rounds[-1], levels)
    aligned_spread = max_pairwise_w1(aligned_rounds[-1], levels)
    assert raw_spread > 0.3  # the conditions really make the policies disagree
    assert aligned_spread < 0.15 * raw_spread  # realised marginals agree (EMA lag leaves a bit)
    # the monotone map keeps each board's own order: more duty raw -> more duty aligned
    coord = swarm[0]
    low, high = np.eye(5)[1], np.eye(5)[3]
    assert np.all(np.cumsum(coord.align(high)) <= np.cumsum(coord.align(low)) + 1e-12)


def test_groups_set_after_start_run_the_two_level_consensus():
    """As in the agent: everyone heard at first (wildcard), groups set once running;
    10 % of the deliveries lost."""
    from otswarm.coordination import cluster

    bus = InProcessBus("groups", seed=6, drop=0.1)
    rng = np.random.default_rng(6)
    names = [f"g{i:02d}" for i in range(18)]
    groups = cluster(names, rng.uniform(0, 100, (18, 2)), capacity=6)
    policies = rng.dirichlet(np.full(LEVELS.size, 0.5), size=len(names))
    swarm = []
    for name, policy in zip(names, policies, strict=True):
        link = bus.link(name, track_members=False)
        # anchor 0 (pure DeGroot): the states must go all the way to one consensus
        coord = AlignmentExchange(link, LEVELS, step=0.5, anchor=0.0).start()
        link.start()
        coord.align(policy)
        coord.round(0)  # flat: everyone hears everyone
        swarm.append(coord)
    for coord in swarm:
        coord.set_groups(groups)
        assert coord.groups is groups
        coord.set_groups(groups)  # the same groups again: nothing changes
    spread = [max_pairwise_w1([c.aligner.state for c in swarm], LEVELS)]
    for r in range(1, 21):
        reports = [coord.round(r) for coord in swarm]
        spread.append(max_pairwise_w1([c.aligner.state for c in swarm], LEVELS))
    for name, report in zip(names, reports, strict=True):
        if name in groups.heads:  # its members' states and the other heads' barycenters
            group = groups.members(groups.label_of(name))
            assert 0 < report.neighbours_heard <= len(group) - 1 + len(groups.heads) - 1
        else:
            assert report.neighbours_heard <= 1  # its head's swarm barycenter
    # every agent moves toward (nearly) the same swarm barycenter: about 1 - eta a round
    assert spread[20] < 1e-2 * spread[0]
    for coord in swarm:
        coord.set_groups(None)  # back to one group: everyone's states again
    reports = [coord.round(21) for coord in swarm]
    reports = [coord.round(22) for coord in swarm]
    assert max(report.neighbours_heard for report in reports) > 5


def test_exchange_refuses_unequally_spaced_levels():
    from otswarm.coordination.errors import HistogramError

    with pytest.raises(HistogramError):
        AlignmentExchange(InProcessBus("bad").link("x1"), [0.0, 0.2, 1.0])


def test_histograms_of_senders_gone_silent_are_forgotten():
    """A flood of 300 ids, each sending one state: kept while usable, dropped once
    older than ``max_age`` rounds, so the state per sender stays bounded."""
    bus = InProcessBus("flood", seed=1)
    link = bus.link("me", track_members=False)
    coord = AlignmentExchange(link, LEVELS, step=0.5, max_age=2).start()
    link.start()
    coord.align(np.full(LEVELS.size, 1.0 / LEVELS.size))
    state = histogram_message(np.eye(LEVELS.size)[1], LEVELS, coord.support_id)
    for i in range(300):
        flooder = bus.link(f"f{i:03d}", track_members=False).start()
        flooder.publish(state, round=1)
    assert coord.move(1).neighbours_heard == 300 and coord.kept() == 300
    assert coord.move(3).neighbours_heard == 300  # still within max_age
    assert coord.move(4).neighbours_heard == 0 and coord.kept() == 0
