"""The fleet broker's files as docs/mosquitto-fleet.md installs them: Mosquitto starts
without a warning, reads its server key after dropping privileges only with the
documented ownership, and lets only the operator publish a roster, which agents
adopt (``otswarm keys publish``)."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from fleet_support import PASSWORDS, certificates, fleet_config

from otswarm.identity import (
    AgentIdentity,
    Roster,
    generate_private_key,
    sign_roster,
    write_key_pair,
)
from otswarm.link import MqttLink, MqttLinkConfig
from otswarm.link.broker import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
ROOT = os.geteuid() == 0


@pytest.fixture
def fleet():
    """The docs' broker files in a folder every user can traverse (the broker may run
    as ``mosquitto``)."""
    base = Path(tempfile.mkdtemp(prefix="otswarm-fleet-", dir="/tmp"))
    os.chmod(base, 0o755)
    certs = certificates(base / "certs")
    os.chmod(certs, 0o755)
    for path in certs.iterdir():
        os.chmod(path, 0o644)
    root = base / "broker"
    root.mkdir()
    os.chmod(root, 0o755)
    port = free_port()
    config = fleet_config(root, certs, port)  # its users include the operator
    yield root, certs, config, port
    shutil.rmtree(base, ignore_errors=True)


def _as_broker_user(config: Path, root: Path, certs: Path, key_mode: int) -> None:
    """Files as the docs install them; as root the broker drops to ``mosquitto`` (as
    under systemd), else it runs as this user and the key is this user's."""
    key = certs / "server.key"
    os.chmod(key, key_mode)
    if ROOT:
        config.write_text(config.read_text().replace(f"user {getpass.getuser()}\n",
                                                     "user mosquitto\n"))  # fmt: skip
        shutil.chown(key, "root", "mosquitto")
        for name in ("otswarm.passwd", "otswarm.acl"):
            shutil.chown(root / name, "mosquitto", "mosquitto")
        shutil.chown(root / "data", "mosquitto", "mosquitto")
    for name in ("otswarm.passwd", "otswarm.acl"):
        os.chmod(root / name, 0o600)


def _start(config: Path) -> tuple[subprocess.Popen, str]:
    """Start Mosquitto; (process, what it wrote in its first 1.5 s)."""
    process = subprocess.Popen(
        ["/usr/sbin/mosquitto", "-c", str(config)], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    time.sleep(1.5)
    if process.poll() is not None:
        return process, process.stdout.read()
    return process, ""


def _stop(process: subprocess.Popen) -> str:
    process.terminate()
    return process.communicate(timeout=10)[0]


def test_broker_starts_with_the_docs_files_without_a_warning(fleet):
    root, certs, config, _ = fleet
    _as_broker_user(config, root, certs, 0o640)
    process, early = _start(config)
    assert process.poll() is None, early
    output = _stop(process)
    assert "Warning" not in output and "Error" not in output, output


def test_a_server_key_the_broker_user_cannot_read_stops_the_broker(fleet):
    root, certs, config, _ = fleet
    _as_broker_user(config, root, certs, 0o600 if ROOT else 0o000)
    process, output = _start(config)
    if process.poll() is None:
        output = _stop(process)
        raise AssertionError(f"the broker started with an unreadable key: {output}")
    assert "Unable to load server key file" in output, output


def _keys(folder: Path, agents: tuple[str, ...]):
    operator = generate_private_key()
    write_key_pair(operator, folder / "operator.key", folder / "operator.pub")
    keys = {a: generate_private_key() for a in agents}
    roster = Roster("fleet", 5, {a: k.public_key() for a, k in keys.items()})
    (folder / "roster.json").write_bytes(sign_roster(roster, operator))
    return operator, keys


def _publish(folder: Path, url: str, ca: Path, user: str, password: str):
    return subprocess.run(
        [sys.executable, "-m", "otswarm.cli", "keys", "publish", str(folder / "roster.json"),
         "--operator-pub", str(folder / "operator.pub"), "--broker", url,
         "--username", user, "--password", password, "--ca", str(ca)],
        capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
    )  # fmt: skip


def test_only_the_operator_publishes_the_roster_and_agents_adopt_it(fleet, tmp_path):
    root, certs, config, port = fleet
    _as_broker_user(config, root, certs, 0o640)
    process, early = _start(config)
    assert process.poll() is None, early
    try:
        url = f"mqtts://127.0.0.1:{port}"
        operator, keys = _keys(tmp_path, ("alice", "bob"))
        refused = _publish(tmp_path, url, certs / "ca.crt", "alice", PASSWORDS["alice"])
        assert refused.returncode == 1 and "refused the publish" in refused.stderr, refused
        done = _publish(tmp_path, url, certs / "ca.crt", "operator", PASSWORDS["operator"])
        assert done.returncode == 0, done.stderr
        identity = AgentIdentity("bob", keys["bob"], operator.public_key())  # no roster_file
        link = MqttLink(MqttLinkConfig(
            url, "fleet", "bob", ca_file=str(certs / "ca.crt"), username="bob",
            password=PASSWORDS["bob"], identity=identity,
        ))  # fmt: skip
        with link:
            deadline = time.monotonic() + 10
            while link.roster is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert link.roster is not None and link.roster.serial == 5
            assert set(link.roster.agents) == {"alice", "bob"}
    finally:
        _stop(process)
