"""Anchored (Friedkin-Johnsen) consensus: it keeps taking in the live policy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from otswarm.coordination.alignment import PolicyAligner, align_step, anchored_step
from otswarm.coordination.errors import HistogramError
from otswarm.coordination.exchange import AlignmentExchange
from otswarm.coordination.quantile import max_pairwise_w1, w1_to_all
from otswarm.link.inprocess import InProcessBus

LEVELS = np.linspace(0.0, 1.0, 5)
HIGH_DUTY = np.array([0.001, 0.006, 0.016, 0.082, 0.895])  # the demo's pre-drop consensus
LOW_DUTY = np.array([0.82, 0.117, 0.047, 0.012, 0.004])  # the policy after the harvest drop


def _swarm(bus, n, **kwargs):
    return [
        AlignmentExchange(bus.link(f"a{i}", track_members=False).start(), LEVELS, **kwargs).start()
        for i in range(n)
    ]


def test_different_anchors_converge_geometrically_to_a_narrower_equilibrium():
    bus = InProcessBus("anchors", seed=1)
    rng = np.random.default_rng(1)
    anchors = rng.dirichlet(np.full(LEVELS.size, 0.5), size=8)
    swarm = _swarm(bus, len(anchors), step=0.5, anchor=0.2)
    states = []
    for r in range(1, 81):
        for coord, anchor in zip(swarm, anchors, strict=True):
            coord.align(anchor)  # one tick per round, a constant policy: m_i = anchor
        for coord in swarm:
            coord.round(r)
        states.append(np.array([c.aligner.state for c in swarm]))
    # successive moves max_i W1(s_i(k+1), s_i(k)) shrink like rho^k, rho = 1 - 0.5*0.2 = 0.9
    moves = np.array(
        [
            max(w1_to_all(b, a, LEVELS)[i] for i, a in enumerate(a_))
            for a_, b in itertools.pairwise(states)
        ]
    )
    for k in range(len(moves) - 10):
        if moves[k] > 1e-4:  # uint16 wire weights: below this the moves are quantisation
            assert moves[k + 10] <= 0.9**10 * moves[k] + 1e-4, (k, moves[k], moves[k + 10])
    assert moves[-1] < 1e-4
    anchor_spread = max_pairwise_w1(anchors, LEVELS)
    final_spread = max_pairwise_w1(states[-1], LEVELS)
    # all-to-all: W1(s_i*, s_j*) = (1-eta)lam / ((1-eta)lam + eta n/(n-1)) W1(m_i, m_j) ~ 0.15x
    assert final_spread < 0.3 * anchor_spread, (final_spread, anchor_spread)
    assert final_spread > 0.0  # anchored: the boards keep some of their own view


@pytest.mark.parametrize("drop", [0.0, 0.1])
def test_consensus_follows_when_every_policy_shifts_to_low_duty(drop):
    """The demo bug: all policies ask for low duty after a harvest drop; the realised
    duty must follow within a bounded number of rounds instead of staying at ~0.95."""
    bus = InProcessBus("shift", seed=2, drop=drop)
    swarm = _swarm(bus, 8, step=0.5)  # default anchor and reference rate
    for r in range(1, 41):  # long enough on high duty that the consensus sits there
        for coord in swarm:
            coord.align(HIGH_DUTY)
        for coord in swarm:
            coord.round(r)
    realised = []
    for r in range(41, 81):
        realised.append([LEVELS @ coord.align(LOW_DUTY) for coord in swarm])
        for coord in swarm:
            coord.round(r)
    realised = np.array(realised)  # (rounds after the shift, agents): mean duty drawn
    wanted = LEVELS @ LOW_DUTY
    assert realised[0].min() > 0.6  # right after the shift the old consensus still rules
    # rho = 1 - (1-eta) lam = 0.9 per round, plus the anchor's half-life of one tick:
    # within 30 rounds the gap (<= 1) is below 0.9^30 + 2^-30 ~ 0.05
    assert np.all(np.abs(realised[30:] - wanted) < 0.05), realised[30:].max(axis=1)
    for coord in swarm:
        assert w1_to_all([coord.aligner.state], LOW_DUTY, LEVELS)[0] < 0.05


def test_anchored_step_weights_and_limits():
    rng = np.random.default_rng(3)
    own, anchor, nbr = rng.dirichlet(np.ones(LEVELS.size), size=3)
    # lam = 0 is the DeGroot step; the mean moves by the stated weights (binning keeps means)
    np.testing.assert_allclose(
        anchored_step(own, anchor, [nbr], LEVELS, 0.5, 0.0), align_step(own, [nbr], LEVELS, 0.5)
    )
    moved = anchored_step(own, anchor, [nbr], LEVELS, 0.5, 0.2)
    expected_mean = LEVELS @ (0.4 * own + 0.1 * anchor + 0.5 * nbr)
    assert LEVELS @ moved == pytest.approx(expected_mean, abs=1e-12)
    alone = anchored_step(own, anchor, [], LEVELS, 0.5, 0.2)  # nobody heard: (1-lam, lam)
    assert LEVELS @ alone == pytest.approx(LEVELS @ (0.8 * own + 0.2 * anchor), abs=1e-12)
    for bad in (1.0, -0.1):
        with pytest.raises(HistogramError, match="anchor"):
            anchored_step(own, anchor, [nbr], LEVELS, 0.5, bad)
        with pytest.raises(HistogramError, match="anchor"):
            PolicyAligner(LEVELS, anchor=bad)


def test_reanchor_restarts_from_the_fresh_policy():
    aligner = PolicyAligner(LEVELS, step=0.5)
    for _ in range(20):
        aligner.apply(HIGH_DUTY)
        aligner.consensus_round([HIGH_DUTY])
    for _ in range(3):  # three ticks of the new policy (EMA half-life: one tick)
        aligner.apply(LOW_DUTY)
    aligner.reanchor()
    assert (
        w1_to_all([aligner.state], LOW_DUTY, LEVELS)[0]
        < 0.15 * w1_to_all([HIGH_DUTY], LOW_DUTY, LEVELS)[0]
    )
