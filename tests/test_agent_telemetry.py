"""The agent's telemetry: a real agent (TOML config, LiteRT policy, simulated MCU on a
pty, Mosquitto) publishes its ledger's joules, power and state, retained and signed,
and books the bytes it costs."""

from __future__ import annotations

import dataclasses
import queue
import threading

import numpy as np
import pytest
from link_support import KEY, inbox, mqtt_link

from otswarm.agent.build import build_agent
from otswarm.agent.config import load_config
from otswarm.agent.telemetry import file_sha256, w1_to_barycenter
from otswarm.demo.configs import write_agent_config
from otswarm.firmware_bridge.simulator.pty_server import start_simulator_on_pty
from otswarm.summaries import Kind, Telemetry


@pytest.fixture
def board():
    device, handle = start_simulator_on_pty(in_process=True, time_acceleration=240.0, seed=3)
    yield device
    handle.stop()


def _agent(tmp_path, device, url, name="tele-1", telemetry_s=0.2):
    """A real agent (telemetry due at every tick by default), signed with the test key."""
    path = write_agent_config(tmp_path / name, name, 0, device, url, 0.5, 8.0, 5)
    (tmp_path / "swarm.key").write_text(KEY)
    config = load_config(path)
    return build_agent(
        dataclasses.replace(
            config,
            agent=dataclasses.replace(config.agent, telemetry_s=telemetry_s),
            # no heartbeats during the test: only the tick's own messages are sent
            link=dataclasses.replace(
                config.link, heartbeat_s=600.0, hmac_key_file=tmp_path / "swarm.key"
            ),
        )
    )


def _tick_until_published(agent, timeout_ticks: int = 20):
    for _ in range(timeout_ticks):
        agent.clock.wait_next_tick(threading.Event())
        rec = agent.tick()
        if "telemetry" not in " ".join(rec.errors) and agent.telemetry.published:
            return rec
    raise AssertionError("no telemetry published")


def test_agent_publishes_its_ledger_and_state(mqtt_broker, board, tmp_path):
    agent = _agent(tmp_path, board, mqtt_broker.url, telemetry_s=1.0)
    viewer = mqtt_link(mqtt_broker.url, "viewer", "demo")
    got: queue.Queue = inbox(viewer, Kind.TELEMETRY)
    try:
        assert viewer.wait_ready(10)
        records = []
        # the first telemetry and then one every second (of wall time: under load the
        # ticks of 0.5 s run late, so count what was published, not ticks)
        while agent.telemetry.published < 4 and len(records) < 40:
            agent.clock.wait_next_tick(threading.Event())
            records.append(agent.tick())
        assert all(not r.errors for r in records), [r.errors for r in records]
        envelopes = [got.get(timeout=10) for _ in range(agent.telemetry.published)]
    finally:
        viewer.close()
        agent.close()
    assert len(envelopes) >= 4
    first, second = (e.message for e in envelopes[-2:])
    assert isinstance(second, Telemetry) and envelopes[1].header.signed
    assert envelopes[1].header.agent == "tele-1"
    assert {"idle", "policy", "serial"} <= set(second.joules)
    assert all(second.joules[c] >= first.joules.get(c, 0.0) for c in second.joules)
    assert second.uptime_s > first.uptime_s
    # rpi4: idle 2.7 W plus a few mW of CPU, radio and serial
    assert 2.6 < second.power_w < 4.0, second.power_w
    assert second.policy_sha256 == file_sha256(agent.policy.model_path)
    assert second.board == "rpi4"
    assert second.period_s == 1.0
    assert 0.0 <= second.battery_soc <= 1.0 and second.duty in np.linspace(0.0, 1.0, 5)


def test_telemetry_is_retained_for_late_viewers(mqtt_broker, board, tmp_path):
    agent = _agent(tmp_path, board, mqtt_broker.url, name="tele-2")
    try:
        # the ledger books idle in commit-window steps: once some is booked, the
        # next telemetry (due at every tick here) carries it
        for _ in range(40):
            _tick_until_published(agent)
            if agent.ledger.entries("tele-2", "idle"):
                break
        _tick_until_published(agent)
        late = mqtt_link(mqtt_broker.url, "late", "demo")
        got = inbox(late, Kind.TELEMETRY, sender="tele-2")
        try:
            envelope = got.get(timeout=10)  # retained: no new tick needed
        finally:
            late.close()
    finally:
        agent.close()
    assert envelope.header.agent == "tele-2"
    assert envelope.message.joules["idle"] > 0


def test_the_bytes_telemetry_costs_are_booked_as_mqtt_tx(mqtt_broker, board, tmp_path):
    agent = _agent(tmp_path, board, mqtt_broker.url, name="tele-3")
    try:
        rec = _tick_until_published(agent)
        agent.clock.wait_next_tick(threading.Event())
        sent_before = agent.link.stats().sent_bytes
        booked_before = sum(e.bytes for e in agent.ledger.entries("tele-3", "mqtt_tx"))
        assert booked_before == sent_before  # every tick books what it sent
        message = agent.telemetry.tick(rec)
        agent.traffic.book()
        sent = agent.link.stats().sent_bytes - sent_before
        booked = sum(e.bytes for e in agent.ledger.entries("tele-3", "mqtt_tx")) - booked_before
    finally:
        agent.close()
    assert isinstance(message, Telemetry)
    # the one message: header (22 + 7-byte id), body, 16-byte tag
    assert booked == sent > 22 + len("tele-3") + 16 + 32


def test_alignment_w1_is_the_distance_to_the_barycenter():
    support = np.array([0.0, 1.0])
    # the barycenter of the point masses at 0 and 1 is the point at 1/2, binned half-half
    assert w1_to_barycenter([1.0, 0.0], [np.array([0.0, 1.0])], support) == pytest.approx(0.5)
    assert w1_to_barycenter([0.3, 0.7], [np.array([0.3, 0.7])] * 2, support) == pytest.approx(0)
    assert w1_to_barycenter([0.3, 0.7], [], support) is None  # alone: no barycenter to speak of
