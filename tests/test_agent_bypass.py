"""Battery safety: below the configured SoC the duty follows the board's own policy.

A real agent (built from its TOML config, the shipped LiteRT policy, pyserial on
a simulated MCU's pty, a real Mosquitto) whose swarm consensus sits at high duty,
as in the demo before the harvest drop.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from otswarm.agent.build import build_agent
from otswarm.agent.config import load_config
from otswarm.demo.configs import write_agent_config
from otswarm.firmware_bridge.simulator.pty_server import start_simulator_on_pty

HIGH_DUTY_CONSENSUS = np.array([0.001, 0.006, 0.016, 0.082, 0.895])  # the demo's frozen one


@pytest.fixture
def low_battery_board():
    device, handle = start_simulator_on_pty(in_process=True, initial_soc=0.1, seed=7)
    yield device
    handle.stop()


def _ticks(tmp_path, name, device, url, bypass_soc, n=6, alignment=True):
    path = write_agent_config(tmp_path / name, name, 0, device, url, 0.5, 8.0, 5)
    config = load_config(path)
    coordination = dataclasses.replace(
        config.coordination, bypass_alignment_below_soc=bypass_soc, alignment=alignment
    )
    agent = build_agent(dataclasses.replace(config, coordination=coordination))
    try:
        for _ in range(n):
            agent.alignment.aligner.state = HIGH_DUTY_CONSENSUS.copy()  # what the swarm says
            agent.tick()
    finally:
        agent.close()
    lines = (tmp_path / name / "run.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_low_battery_bypasses_alignment_and_the_record_says_so(
    mqtt_broker, low_battery_board, tmp_path
):
    ticks = _ticks(tmp_path, "low-1", low_battery_board, mqtt_broker.url, bypass_soc=0.3)
    levels = np.linspace(0.0, 1.0, 5)
    assert all(not t["errors"] for t in ticks), [t["errors"] for t in ticks]
    assert all(t["battery_soc"] < 0.3 for t in ticks)
    assert all(t["alignment_bypassed"] for t in ticks)
    for t in ticks:  # the duty is drawn from the policy's own probabilities
        assert t["duty_probs"] == t["policy_probs"]
        assert levels @ np.array(t["policy_probs"]) < 0.5  # and the policy wants low duty


def test_without_the_bypass_the_consensus_would_override_the_policy(
    mqtt_broker, low_battery_board, tmp_path
):
    """The same board with the bypass off (threshold 0): the high-duty consensus wins,
    which is exactly what drained the demo's batteries."""
    ticks = _ticks(tmp_path, "low-2", low_battery_board, mqtt_broker.url, bypass_soc=0.0)
    levels = np.linspace(0.0, 1.0, 5)
    assert not any(t["alignment_bypassed"] for t in ticks)
    for t in ticks[1:]:  # from the first round on, the state is the high-duty consensus
        assert levels @ np.array(t["duty_probs"]) > levels @ np.array(t["policy_probs"]) + 0.3


def test_with_alignment_off_the_policy_decides_whatever_the_consensus_says(
    tmp_path, low_battery_board, mqtt_broker
):
    """The agent's default ([coordination].alignment = false): no bypass needed, the
    high-duty consensus never reaches the duty."""
    ticks = _ticks(tmp_path, "low-3", low_battery_board, mqtt_broker.url, 0.0, alignment=False)
    assert len(ticks) == 6
    assert not any(t["alignment_bypassed"] for t in ticks)
    for t in ticks:
        assert t["duty_probs"] == t["policy_probs"]
