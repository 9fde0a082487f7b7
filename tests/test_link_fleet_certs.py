"""Client certificates instead of passwords (docs/mosquitto-fleet.md) on real Mosquitto.

The broker runs docs/mosquitto-fleet.conf with the listener lines of the docs
section on client certificates: the certificate's CN is the MQTT username, so
the ACL binds each certificate to its own agent id.
"""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from fleet_support import (
    PASSWORDS,
    SWARM,
    assert_cannot_pose_as_bob,
    assert_summary_delivered,
    certificates,
    client_certificate_lines,
    fleet_config,
    start_fleet_broker,
)
from link_support import mqtt_link

from otswarm.link import LinkConnectError, MqttLink, MqttLinkConfig
from otswarm.link.broker import free_port


@pytest.fixture(scope="module")
def cert_broker(tmp_path_factory):
    """The docs' broker demanding client certificates; ``.certs``: CA and agents' files,
    ``.rogue``: an ``alice`` certificate from another CA."""
    root = tmp_path_factory.mktemp("fleet-certs")
    certs = certificates(root / "certs", ("alice", "carol"))
    port = free_port()
    config = fleet_config(root, certs, port, client_certificate_lines())
    broker = start_fleet_broker(config, port, certs / "ca.crt")
    broker.certs = certs
    broker.rogue = certificates(root / "rogue", ("alice",))
    yield broker
    broker.stop()


def _options(broker, agent: str, folder=None) -> dict:
    folder = folder or broker.certs
    return {
        "ca_file": broker.ca_file,
        "cert_file": str(folder / f"{agent}.crt"),
        "key_file": str(folder / f"{agent}.key"),
    }


def _agent(broker, agent: str) -> MqttLink:
    return mqtt_link(f"mqtts://127.0.0.1:{broker.port}", agent, SWARM, **_options(broker, agent))


def test_agents_with_client_certificates_talk_without_passwords(cert_broker):
    alice, carol = _agent(cert_broker, "alice"), _agent(cert_broker, "carol")
    try:
        assert_summary_delivered(alice, carol)
    finally:
        alice.close()
        carol.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "refused the TLS session.*no client certificate was offered"),
        ({"username": "alice", "password": PASSWORDS["alice"]}, "no client certificate"),
        ("rogue", "refused the TLS session"),  # the alert names depend on OpenSSL
    ],
    ids=["no-certificate", "password-only", "certificate-of-another-ca"],
)
def test_agents_without_a_certificate_of_the_ca_are_refused(cert_broker, options, message):
    if options == "rogue":
        options = _options(cert_broker, "alice", cert_broker.rogue)
    options = {"ca_file": cert_broker.ca_file, **options}
    config = MqttLinkConfig(f"mqtts://127.0.0.1:{cert_broker.port}", SWARM, "alice", **options)
    with pytest.raises(LinkConnectError, match=message):
        MqttLink(config).start(timeout=10)


def test_a_certificate_cannot_publish_as_another_agent(cert_broker):
    """alice's certificate with bob's username and password still acts as alice (CN)."""
    alice, carol = _agent(cert_broker, "alice"), _agent(cert_broker, "carol")
    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    raw.username_pw_set("bob", PASSWORDS["bob"])
    alice_files = _options(cert_broker, "alice")
    raw.tls_set(alice_files["ca_file"], alice_files["cert_file"], alice_files["key_file"])
    try:
        assert_cannot_pose_as_bob(raw, cert_broker.port, alice, carol)
    finally:
        alice.close()
        carol.close()
