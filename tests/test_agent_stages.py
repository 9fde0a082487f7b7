"""The tick's stages fail apart: a consensus that cannot be computed (here a grouping
that raises) is logged and recorded under its own stage, and the allocation round
still decides, publishes its offer and books (a real agent: its TOML config, the
shipped LiteRT policy, a simulated MCU on a pty, Mosquitto)."""

from __future__ import annotations

import json

import pytest

from otswarm.agent.build import build_agent
from otswarm.agent.config import load_config
from otswarm.coordination.errors import CoordinationError
from otswarm.demo.configs import write_agent_config
from otswarm.firmware_bridge.simulator.pty_server import start_simulator_on_pty


class BrokenGrouping:
    """A grouping that cannot group (what a bug or an impossible view would do)."""

    def __init__(self) -> None:
        self.calls = 0

    def update(self, offers):
        self.calls += 1
        raise CoordinationError("cannot group these members")


@pytest.fixture
def board():
    device, handle = start_simulator_on_pty(in_process=True, initial_soc=0.5, seed=3)
    yield device
    handle.stop()


def test_a_failing_consensus_does_not_stop_the_allocation(mqtt_broker, board, tmp_path, caplog):
    path = write_agent_config(tmp_path / "st-1", "st-1", 0, board, mqtt_broker.url, 0.5, 8.0, 5)
    agent = build_agent(load_config(path))
    broken = agent.grouping = BrokenGrouping()
    rounds = []
    try:
        for _ in range(3):
            rec = agent.tick()
            rounds.append(rec.round)
            assert agent.allocation.offers(rec.round).keys() == {"st-1"}  # offer published
    finally:
        agent.close()
    assert broken.calls == 3
    lines = (tmp_path / "st-1" / "run.jsonl").read_text().splitlines()
    ticks = [json.loads(line) for line in lines]
    for tick in ticks:
        assert tick["errors"] == ["consensus: CoordinationError: cannot group these members"]
        assert tick["duty"] is not None  # the duty was still decided and set
    assert any("consensus" in r.getMessage() for r in caplog.records)
