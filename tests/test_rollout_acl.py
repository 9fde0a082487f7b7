"""Only the operator identity may publish rollouts: the ACL of docs/mosquitto-fleet.acl
on real Mosquitto (TLS, passwords), as tests/test_link_fleet.py starts it."""

from __future__ import annotations

import queue
import threading

import paho.mqtt.client as mqtt
import pytest
from fleet_support import (
    PASSWORDS,
    SWARM,
    assert_summary_delivered,
    fleet_agent,
    fleet_url,
)
from link_support import KEY, inbox
from rollout_support import UNIFORM, rollout_of, write_keys

from otswarm.link import MqttLinkConfig
from otswarm.link.topics import OPERATOR
from otswarm.rollout.errors import RolloutError
from otswarm.rollout.operator_client import OperatorClient
from otswarm.summaries import Kind, encode


@pytest.fixture(scope="module")
def operator_key(tmp_path_factory):
    """The operator's signing key of this module's rollouts."""
    return write_keys(tmp_path_factory.mktemp("rollout-keys"))[0]


def _client(broker, user: str) -> OperatorClient:
    config = MqttLinkConfig(fleet_url(broker), SWARM, OPERATOR, hmac_key=KEY,
                            ca_file=broker.ca_file, username=user,
                            password=PASSWORDS[user])  # fmt: skip
    return OperatorClient(config)


def test_the_operator_publishes_a_rollout_and_agents_get_it(fleet_broker, operator_key):
    carol = fleet_agent(fleet_broker, "carol")
    got = inbox(carol, Kind.ROLLOUT, sender=OPERATOR)
    try:
        assert carol.wait_ready(10)
        rollout = rollout_of(operator_key, UNIFORM, SWARM)
        with _client(fleet_broker, "operator") as operator:
            operator.publish(rollout)
        assert got.get(timeout=10).message == rollout
        assert OPERATOR not in carol.members()
    finally:
        carol.close()


def test_an_agent_cannot_publish_a_rollout_as_the_operator(fleet_broker, operator_key):
    carol = fleet_agent(fleet_broker, "carol")
    got = inbox(carol, Kind.ROLLOUT, sender=OPERATOR)
    try:
        assert carol.wait_ready(10)
        forged = rollout_of(operator_key, UNIFORM, SWARM)
        with _client(fleet_broker, "alice") as alice, pytest.raises(RolloutError, match="refused"):
            alice.publish(forged)
        assert forged not in _drain(got)
    finally:
        carol.close()


def test_an_agent_cannot_publish_a_rollout_under_its_own_id(fleet_broker, operator_key):
    """The rollout kind is denied on every agent's own subtree; the rest of it is not."""
    alice, carol = fleet_agent(fleet_broker, "alice"), fleet_agent(fleet_broker, "carol")
    got = inbox(carol, Kind.ROLLOUT)  # every sender, not just the operator
    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    raw.username_pw_set("alice", PASSWORDS["alice"])
    raw.tls_set(ca_certs=fleet_broker.ca_file)
    acks: queue.Queue = queue.Queue()
    raw.on_publish = lambda client, userdata, mid, reason, properties: acks.put(reason)
    try:
        assert carol.wait_ready(10)
        raw.connect("127.0.0.1", fleet_broker.port)
        raw.loop_start()
        forged = rollout_of(operator_key, UNIFORM, SWARM)
        payload = encode(forged, agent="alice", round=0, sequence=1, timestamp_us=10**15,
                         key=KEY.encode())  # fmt: skip
        raw.publish(f"otswarm/v1/{SWARM}/alice/rollout", payload, qos=1)
        assert acks.get(timeout=10).is_failure  # MQTT 5 PUBACK: "Not authorized"
        assert forged not in _drain(got)
        assert_summary_delivered(alice, carol)  # her summaries still go through
    finally:
        raw.loop_stop()
        raw.disconnect()
        alice.close()
        carol.close()


def _drain(got: queue.Queue, quiet_s: float = 1.0) -> list:
    """Every rollout delivered until ``quiet_s`` passes without one (the operator's
    retained rollout of the first test arrives on subscribing)."""
    messages = []
    while True:
        try:
            messages.append(got.get(timeout=quiet_s).message)
        except queue.Empty:
            return messages


def test_the_broker_refuses_a_packet_larger_than_any_otswarm_message(fleet_broker, operator_key):
    """``max_packet_size`` of the docs' configuration: a 70 kB publish never reaches a board,
    while a full-size rollout (the 64 KiB payload limit) still does."""
    carol = fleet_agent(fleet_broker, "carol")
    got = inbox(carol, Kind.ROLLOUT, sender=OPERATOR)
    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    raw.username_pw_set(OPERATOR, PASSWORDS[OPERATOR])
    raw.tls_set(ca_certs=fleet_broker.ca_file)
    gone = threading.Event()
    raw.on_disconnect = lambda *args: gone.set()
    try:
        assert carol.wait_ready(10)
        _drain(got)
        filler = bytes(65536 - 1600 - len(UNIFORM.read_bytes()))  # ~64 kB with card and header
        largest = rollout_of(operator_key, UNIFORM, SWARM, model_bytes=filler)
        with _client(fleet_broker, OPERATOR) as operator:
            operator.publish(largest)
        assert largest in _drain(got)
        raw.connect("127.0.0.1", fleet_broker.port)
        raw.loop_start()
        raw.publish(f"otswarm/v1/{SWARM}/{OPERATOR}/rollout", bytes(70000), qos=1)
        assert gone.wait(10)  # Mosquitto drops the connection that sent it
        assert _drain(got) == []
    finally:
        raw.loop_stop()
        carol.close()
