"""Who may do what on the fleet broker of docs/ (real Mosquitto, TLS, passwords, the ACL):
agents publish only their own telemetry; a viewer reads everything and publishes nothing."""

from __future__ import annotations

import queue
import time

import paho.mqtt.client as mqtt
import pytest
from fleet_support import PASSWORDS, SWARM, fleet_agent, fleet_url
from link_support import KEY, wait_until

from otswarm.fleet.state import FleetState
from otswarm.fleet.watch import FleetWatcher
from otswarm.link import LinkConnectError, MqttLinkConfig
from otswarm.summaries import Kind, Telemetry, encode

VIEWER = "fleet-viewer"


def _raw(broker, user: str) -> tuple[mqtt.Client, queue.Queue]:
    """A connected MQTT 5 client of ``user`` and the queue of its PUBACK reason codes."""
    acks: queue.Queue = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, PASSWORDS[user])
    client.tls_set(ca_certs=broker.ca_file)
    client.on_publish = lambda c, userdata, mid, reason, properties: acks.put(reason)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client, acks


def _telemetry(agent: str, seq: int) -> tuple[bytes, int]:
    """A signed telemetry of ``agent`` that any receiver would accept (a new session, the
    time now), and its timestamp (µs) to recognise it by."""
    stamp = int(time.time() * 1e6) + seq
    message = Telemetry(1.0, 5.0, 2.7, {"idle": 13.5})
    payload = encode(message, agent=agent, round=0, sequence=seq, timestamp_us=stamp,
                     session=int(time.time()) + 100, key=KEY.encode())  # fmt: skip
    return payload, stamp


def _viewer(broker, state: FleetState, user: str = VIEWER, password: str | None = None):
    config = MqttLinkConfig(fleet_url(broker), agent=VIEWER, ca_file=broker.ca_file, username=user,
                            password=password or PASSWORDS[user])  # fmt: skip
    return FleetWatcher(config, state, SWARM).start(timeout=10)


def test_the_viewer_reads_every_agent(fleet_broker):
    alice, bob = fleet_agent(fleet_broker, "alice"), fleet_agent(fleet_broker, "bob")
    state = FleetState(KEY.encode())
    try:
        alice.publish(Telemetry(1.0, 5.0, 2.7, {"idle": 13.5}, board="rpi4"))
        viewer = _viewer(fleet_broker, state)
        try:
            assert wait_until(lambda: {"alice", "bob"} <= set(state.agents(SWARM)))
            assert wait_until(lambda: state.agents(SWARM)["alice"].telemetry is not None)
        finally:
            viewer.close()
    finally:
        alice.close()
        bob.close()
    assert state.agents(SWARM)["alice"].telemetry.board == "rpi4"
    assert state.dropped == 0


def test_the_viewer_cannot_publish_anything(fleet_broker):
    carol, bob = fleet_agent(fleet_broker, "carol"), fleet_agent(fleet_broker, "bob")
    got: queue.Queue = queue.Queue()
    carol.on(Kind.TELEMETRY, got.put)
    carol.on(Kind.STATE, got.put)
    raw, acks = _raw(fleet_broker, VIEWER)
    try:
        assert carol.wait_ready(10)
        as_viewer, _ = _telemetry(VIEWER, 1)
        as_alice, forged = _telemetry("alice", 2)
        for topic, payload in [
            (f"otswarm/v1/{SWARM}/{VIEWER}/state", b"x"),  # its own name: the deny line
            (f"otswarm/v1/{SWARM}/{VIEWER}/telemetry", as_viewer),
            (f"otswarm/v1/{SWARM}/alice/telemetry", as_alice),  # as an agent
            ("elsewhere/entirely", b"x"),  # outside the otswarm tree
        ]:
            raw.publish(topic, payload, qos=1, retain=True)
            assert acks.get(timeout=10).is_failure, topic  # "Not authorized"
        marker = bob.publish(Telemetry(1.0, 1.0, 1.0))  # bounds the wait below
        heard = [got.get(timeout=10)]
        while (heard[-1].header.agent, heard[-1].header.sequence) != ("bob", marker):
            heard.append(got.get(timeout=10))
    finally:
        raw.loop_stop()
        raw.disconnect()
        carol.close()
        bob.close()
    assert VIEWER not in {e.header.agent for e in heard}
    assert all(e.header.timestamp_us != forged for e in heard)  # the viewer's "alice" one


def test_an_agent_publishes_only_its_own_telemetry(fleet_broker):
    carol = fleet_agent(fleet_broker, "carol")
    got: queue.Queue = queue.Queue()
    carol.on(Kind.TELEMETRY, got.put)
    raw, acks = _raw(fleet_broker, "alice")
    try:
        assert carol.wait_ready(10)
        as_bob, forged = _telemetry("bob", 1)
        own, stamp = _telemetry("alice", 2)
        raw.publish(f"otswarm/v1/{SWARM}/bob/telemetry", as_bob, qos=1)
        assert acks.get(timeout=10).is_failure  # alice posing as bob, correctly signed
        raw.publish(f"otswarm/v1/{SWARM}/alice/telemetry", own, qos=1)
        assert not acks.get(timeout=10).is_failure
        heard = [got.get(timeout=10)]  # alice's retained telemetry of an earlier test first
        while heard[-1].header.timestamp_us != stamp:
            heard.append(got.get(timeout=10))
    finally:
        raw.loop_stop()
        raw.disconnect()
        carol.close()
    assert all(e.header.timestamp_us != forged for e in heard)  # alice's "bob" telemetry


def test_a_viewer_with_a_wrong_password_is_refused(fleet_broker):
    with pytest.raises(LinkConnectError, match="refused"):
        _viewer(fleet_broker, FleetState(), password="wrong")
