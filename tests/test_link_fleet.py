"""The fleet broker configuration of docs/ (TLS, passwords, per-agent ACL) on real Mosquitto."""

from __future__ import annotations

import getpass
import queue
import subprocess
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from link_support import KEY, inbox, mqtt_link

from runtime.link import LinkConnectError, MqttLink, MqttLinkConfig
from runtime.link.broker import EmbeddedBroker, free_port
from runtime.summaries import Histogram, Kind, encode

DOCS = Path(__file__).resolve().parents[1] / "docs"
SWARM = "fleet"
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}


def _run(*command: str, cwd: Path) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, timeout=60)


def _certificates(folder: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1, made with openssl."""
    folder.mkdir()
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
         "-out", "ca.crt", "-days", "1", "-subj", "/CN=otswarm test CA", cwd=folder)  # fmt: skip
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
         "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=folder)  # fmt: skip
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "san.cnf",
         cwd=folder)  # fmt: skip


@pytest.fixture(scope="module")
def fleet_broker(tmp_path_factory):
    """Mosquitto running docs/mosquitto-fleet.conf with its paths moved to a temp folder."""
    root = tmp_path_factory.mktemp("fleet")
    _certificates(root / "certs")
    (root / "data").mkdir()
    for i, (user, password) in enumerate(PASSWORDS.items()):
        create = ["-c"] if i == 0 else []
        _run("mosquitto_passwd", *create, "-b", str(root / "otswarm.passwd"), user, password,
             cwd=root)  # fmt: skip
    (root / "otswarm.acl").write_text((DOCS / "mosquitto-fleet.acl").read_text())
    port = free_port()
    config = (
        (DOCS / "mosquitto-fleet.conf")
        .read_text()
        .replace("/etc/mosquitto/", f"{root}/")
        .replace("/var/lib/mosquitto/", f"{root}/data/")
        .replace("listener 8883", f"listener {port} 127.0.0.1")
    )
    config += f"user {getpass.getuser()}\n"  # stay who we are (root would switch to mosquitto)
    (root / "mosquitto.conf").write_text(config)
    broker = EmbeddedBroker(port=port, prefer="mosquitto", config_file=root / "mosquitto.conf")
    broker.start()
    broker.ca_file = str(root / "certs" / "ca.crt")
    yield broker
    broker.stop()


def _agent(broker, user: str, password: str | None = None) -> MqttLink:
    return mqtt_link(
        f"mqtts://127.0.0.1:{broker.port}", user, SWARM, ca_file=broker.ca_file,
        username=user, password=password or PASSWORDS[user],
    )  # fmt: skip


def test_agents_talk_over_tls_with_passwords(fleet_broker):
    alice, carol = _agent(fleet_broker, "alice"), _agent(fleet_broker, "carol")
    try:
        got = inbox(carol, Kind.HISTOGRAM)
        assert carol.wait_ready(10)
        alice.publish(Histogram(np.ones(4) / 4))
        assert got.get(timeout=10).header.agent == "alice"
        assert alice.protocol == "5"
        assert carol.alive() == ["alice", "carol"]
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
    alice, carol = _agent(fleet_broker, "alice"), _agent(fleet_broker, "carol")
    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    raw.username_pw_set("alice", PASSWORDS["alice"])
    raw.tls_set(ca_certs=fleet_broker.ca_file)
    acks: queue.Queue = queue.Queue()
    raw.on_publish = lambda client, userdata, mid, reason, properties: acks.put(reason)
    try:
        got = inbox(carol, Kind.HISTOGRAM)
        assert carol.wait_ready(10)
        raw.connect("127.0.0.1", fleet_broker.port)
        raw.loop_start()
        spoof = encode(
            Histogram(np.ones(4) / 4), agent="bob", round=0, sequence=1,
            timestamp_us=10**15, key=KEY.encode(),
        )  # fmt: skip
        raw.publish(f"otswarm/v1/{SWARM}/bob/histogram", spoof, qos=1)
        assert acks.get(timeout=10).is_failure  # MQTT 5 PUBACK: "Not authorized"
        alice.publish(Histogram(np.ones(4) / 4))  # her own subtree: allowed
        assert got.get(timeout=10).header.agent == "alice"
        assert got.empty()
        assert "bob" not in carol.members()
    finally:
        raw.loop_stop()
        raw.disconnect()
        alice.close()
        carol.close()
