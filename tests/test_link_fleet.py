"""The fleet broker configuration of docs/ (TLS, passwords, per-agent ACL) on real Mosquitto."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from fleet_support import (
    PASSWORDS,
    SWARM,
    assert_cannot_pose_as_bob,
    assert_summary_delivered,
    fleet_agent,
)

from otswarm.link import LinkConnectError, MqttLink, MqttLinkConfig


def test_agents_talk_over_tls_with_passwords(fleet_broker):
    alice, carol = fleet_agent(fleet_broker, "alice"), fleet_agent(fleet_broker, "carol")
    try:
        assert_summary_delivered(alice, carol)
    finally:
        alice.close()
        carol.close()


@pytest.mark.parametrize(("user", "password"), [(None, None), ("alice", "wrong")])
def test_anonymous_and_wrong_passwords_are_refused(fleet_broker, user, password):
    config = MqttLinkConfig(
        f"mqtts://127.0.0.1:{fleet_broker.port}", SWARM, "alice",
        ca_file=fleet_broker.ca_file, username=user, password=password,
    )  # fmt: skip
    with pytest.raises(LinkConnectError, match="refused"):
        MqttLink(config).start(timeout=10)


def test_an_agent_cannot_publish_as_another(fleet_broker):
    """alice holds the swarm key, so only the broker's ACL can stop her posing as bob."""
    alice, carol = fleet_agent(fleet_broker, "alice"), fleet_agent(fleet_broker, "carol")
    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    raw.username_pw_set("alice", PASSWORDS["alice"])
    raw.tls_set(ca_certs=fleet_broker.ca_file)
    try:
        assert_cannot_pose_as_bob(raw, fleet_broker.port, alice, carol)
    finally:
        alice.close()
        carol.close()
