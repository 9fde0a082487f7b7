"""What the agent feeds the policy follows the observation contract (docs/trainer.md)."""

from __future__ import annotations

import pytest

from otswarm.agent.sense import Reading, received_power_w
from otswarm.policy import HARVEST_FEATURES, build_observation

RECEIVED_COLUMN = [f["name"] for f in HARVEST_FEATURES].index("received_w")


def test_received_power_is_per_round_of_the_boards_own_clock():
    """A demo board (clock x240, 0.5 s wall rounds = 120 s MCU rounds) took in 215 J:
    1.79 W on average, as the training env divides the shared energy by its step."""
    assert received_power_w(215.0, round_s=120.0) == pytest.approx(215.0 / 120.0)
    assert received_power_w(215.0, round_s=0.0) == 0.0  # first round: length unknown


def test_received_power_stays_in_the_trained_range_on_a_demo_board():
    """The feature is (W / 10 W): a share a board can take in (at most 2 W by its
    offer cap) must enter well inside [0, 1], not at 43 (215 J / 0.5 wall s)."""
    reading = Reading(0.24, 1.7, 6.4, 1.0, 12.5, 8600.0, 9000.0)
    watts = received_power_w(215.0, round_s=120.0)
    obs = build_observation(reading.quantities(watts))
    assert 0.0 < obs[RECEIVED_COLUMN] < 1.0
