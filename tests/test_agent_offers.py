"""What a board offers and asks: a drained battery asks for help (a simulated MCU on a pty)."""

from __future__ import annotations

import logging

import pytest

from otswarm.agent.offers import OfferPolicy
from otswarm.agent.sense import BridgeSense
from otswarm.firmware_bridge.link import BridgeLink
from otswarm.firmware_bridge.simulator.pty_server import start_simulator_on_pty

CAPACITY_J = 36000.0
ROUND_S = 120.0  # one demo round in board time: 2 W x 120 s = 240 J at most


@pytest.fixture
def board(request):
    device, handle = start_simulator_on_pty(
        in_process=True, initial_soc=request.param, battery_capacity_j=CAPACITY_J, seed=3
    )
    bridge = BridgeLink(device, telemetry_hz=20.0)
    bridge.open(timeout_s=5.0)
    yield bridge
    bridge.close()
    handle.stop()


@pytest.mark.parametrize("board", [0.0], indirect=True)
def test_an_empty_battery_asks_for_its_deficit(board):
    reading = BridgeSense(board, capacity_j=CAPACITY_J).read()
    assert reading.battery_soc == 0.0 and reading.battery_energy_j == 0.0
    supply, demand = OfferPolicy(0.6, 0.4, 2.0).supply_demand(reading, ROUND_S)
    assert supply == 0.0
    assert demand == pytest.approx(240.0)  # 0.4 x 36 kJ missing, capped at 2 W x 120 s
    small = OfferPolicy(0.6, 0.4, 1000.0).supply_demand(reading, ROUND_S)[1]
    assert small == pytest.approx(0.4 * CAPACITY_J)  # uncapped: the whole deficit


@pytest.mark.parametrize("board", [0.0], indirect=True)
def test_without_a_configured_capacity_an_empty_board_says_why_it_asks_nothing(board, caplog):
    with caplog.at_level(logging.WARNING, logger="otswarm.agent.sense"):
        sense = BridgeSense(board)
        readings = [sense.read(), sense.read()]
    assert all(r.battery_capacity_j == 0.0 for r in readings)
    assert OfferPolicy().supply_demand(readings[0], ROUND_S) == (0.0, 0.0)
    said = [r for r in caplog.records if "battery_capacity_j" in r.getMessage()]
    assert len(said) == 1  # once, not every tick


@pytest.mark.parametrize("board", [0.25], indirect=True)
def test_the_capacity_is_learned_from_telemetry_once_there_is_charge(board):
    reading = BridgeSense(board).read()
    assert reading.battery_capacity_j == pytest.approx(CAPACITY_J, rel=1e-3)
    demand = OfferPolicy(0.6, 0.4, 1000.0).supply_demand(reading, ROUND_S)[1]
    assert demand == pytest.approx((0.4 - reading.battery_soc) * CAPACITY_J, rel=1e-3)
