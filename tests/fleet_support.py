"""The fleet broker of docs/ on a throwaway CA, for tests (not a test module).

One place turns ``docs/mosquitto-fleet.conf`` and ``.acl`` into a runnable
Mosquitto setup in a temporary folder: a CA, a server certificate for
127.0.0.1, client certificates (CN = agent id), the password file, and the docs'
configuration with its paths and port rewritten. The client-certificate variant
takes its listener lines from the fenced ``conf`` block of the docs section, so
the tests check exactly what the page tells an operator to write.
"""

from __future__ import annotations

import getpass
import queue
import re
import subprocess
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
from link_support import KEY, inbox, mqtt_link

from otswarm.link import MqttLink
from otswarm.link.broker import EmbeddedBroker, free_port
from otswarm.summaries import Histogram, Kind, encode

DOCS = Path(__file__).resolve().parents[1] / "docs"
SWARM = "fleet"
PASSWORDS = {
    "alice": "alice-secret",
    "bob": "bob-secret",
    "carol": "carol-secret",
    "fleet-viewer": "viewer-secret",  # reads everything, publishes nothing (docs/fleet.md)
    "operator": "operator-secret",  # publishes rollouts (docs/fleet.md)
}
CLIENT_CERTIFICATE_SECTION = "## Client certificates instead of passwords"
_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")  # fast keygen


def run(*command: str, cwd: Path) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, timeout=60)


def _sign(folder: Path, name: str, subject: str, extensions: str | None = None) -> None:
    """Key ``name.key`` and certificate ``name.crt`` for ``subject``, signed by ca.crt."""
    run("openssl", "req", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.csr",
        "-subj", subject, cwd=folder)  # fmt: skip
    extra = []
    if extensions:
        (folder / f"{name}.ext").write_text(extensions)
        extra = ["-extfile", f"{name}.ext"]
    run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", f"{name}.crt", "-days", "1", *extra, cwd=folder)  # fmt: skip


def certificates(folder: Path, agents: tuple[str, ...] = ()) -> Path:
    """A throwaway CA, a server certificate for 127.0.0.1 and one client certificate
    per agent (``<agent>.crt``/``.key``, CN = the agent id); returns ``folder``."""
    folder.mkdir(parents=True)
    run("openssl", "req", "-x509", *_EC, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
        "-subj", "/CN=otswarm test CA", cwd=folder)  # fmt: skip
    _sign(folder, "server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\n")
    for agent in agents:
        _sign(folder, agent, f"/CN={agent}")
    return folder


def client_certificate_lines() -> str:
    """The listener lines of the docs section on client certificates (its ``conf`` block)."""
    page = (DOCS / "mosquitto-fleet.md").read_text()
    section = page.split(CLIENT_CERTIFICATE_SECTION, 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```conf\n(.*?)```", section, re.S)
    if block is None:
        raise AssertionError(f"{CLIENT_CERTIFICATE_SECTION}: no ```conf block in the docs")
    return block.group(1)


def fleet_acl(users) -> str:
    """The docs' ACL with its example agent blocks (those that only read the swarm)
    replaced by one such block per user of ``users`` that has no block of its own
    (the viewer's and the operator's stay as the docs write them)."""
    page = (DOCS / "mosquitto-fleet.acl").read_text()
    blocks = re.findall(r"^user (\S+)\n((?:topic .*\n)+)", page, re.M)
    agents = [(name, rules) for name, rules in blocks if rules == "topic read otswarm/v1/#\n"]
    if not agents:
        raise AssertionError("docs/mosquitto-fleet.acl: no per-agent user block")
    rules = agents[0][1]
    for name, body in agents:
        page = page.replace(f"user {name}\n{body}\n", "")
    own = {name for name, _ in blocks} - {name for name, _ in agents}
    per_user = "".join(f"user {user}\n{rules}\n" for user in users if user not in own)
    first = re.search(r"^user ", page, re.M).start()
    return page[:first] + per_user + page[first:]


def fleet_config(root: Path, certs: Path, port: int, listener_lines: str = "") -> Path:
    """Write the docs' broker configuration for ``root`` and return its path.

    Paths move under ``root`` (persistence in ``root/data``), the listener to
    127.0.0.1:``port`` followed by ``listener_lines``; the ACL is the docs' file
    and the password file holds :data:`PASSWORDS`.
    """
    (root / "data").mkdir(parents=True, exist_ok=True)
    passwd = root / "otswarm.passwd"
    for i, (user, password) in enumerate(PASSWORDS.items()):
        create = ["-c"] if i == 0 else []
        run("mosquitto_passwd", *create, "-b", str(passwd), user, password, cwd=root)
    (root / "otswarm.acl").write_text(fleet_acl(PASSWORDS))
    config = (
        (DOCS / "mosquitto-fleet.conf")
        .read_text()
        .replace("/etc/mosquitto/certs/", f"{certs}/")
        .replace("/etc/mosquitto/", f"{root}/")
        .replace("/var/lib/mosquitto/", f"{root}/data/")
        .replace("listener 8883\n", f"listener {port} 127.0.0.1\n{listener_lines}")
    )
    config += f"user {getpass.getuser()}\n"  # stay who we are (root would switch to mosquitto)
    path = root / "mosquitto.conf"
    path.write_text(config)
    return path


def start_fleet_broker(config: Path, port: int, ca_file: Path) -> EmbeddedBroker:
    """Start Mosquitto with ``config``; ``.ca_file`` is the CA the agents trust."""
    broker = EmbeddedBroker(port=port, prefer="mosquitto", config_file=config).start()
    broker.ca_file = str(ca_file)
    return broker


def running_fleet_broker(root: Path) -> EmbeddedBroker:
    """The docs' fleet broker (TLS, :data:`PASSWORDS`, the ACL) in ``root``, on a free
    port (the ``fleet_broker`` fixture of tests/conftest.py)."""
    certs = certificates(root / "certs")
    port = free_port()
    return start_fleet_broker(fleet_config(root, certs, port), port, certs / "ca.crt")


def fleet_url(broker: EmbeddedBroker) -> str:
    return f"mqtts://127.0.0.1:{broker.port}"


def fleet_agent(broker: EmbeddedBroker, user: str, password: str | None = None) -> MqttLink:
    """A started link of agent ``user`` on the fleet broker, with its password."""
    return mqtt_link(fleet_url(broker), user, SWARM, ca_file=broker.ca_file, username=user,
                     password=password or PASSWORDS[user])  # fmt: skip


def assert_summary_delivered(sender: MqttLink, receiver: MqttLink) -> None:
    """A histogram from ``sender`` reaches ``receiver``, over MQTT 5, and both are alive."""
    got = inbox(receiver, Kind.HISTOGRAM, sender=sender.agent)
    assert receiver.wait_ready(10)
    sequence = sender.publish(Histogram(np.ones(4) / 4))
    envelope = got.get(timeout=10)
    assert (envelope.header.agent, envelope.header.sequence) == (sender.agent, sequence)
    assert sender.protocol == receiver.protocol == "5"
    assert receiver.alive() == sorted([sender.agent, receiver.agent])


def assert_cannot_pose_as_bob(raw: mqtt.Client, port: int, alice: MqttLink, carol: MqttLink):
    """``raw``, an MQTT 5 client holding alice's credentials (not yet connected), publishes
    a correctly signed histogram as bob: the broker refuses it and carol never gets it,
    while alice's own summary on her own subtree goes through."""
    acks: queue.Queue = queue.Queue()
    raw.on_publish = lambda client, userdata, mid, reason, properties: acks.put(reason)
    got = inbox(carol, Kind.HISTOGRAM)
    assert carol.wait_ready(10)
    raw.connect("127.0.0.1", port)
    raw.loop_start()
    try:
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
