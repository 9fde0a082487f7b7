"""The agent's [link] keys for identity, clock skew, membership bounds and the broker
connect timeout; clear ConfigErrors for missing files; SIGTERM while the agent is
still waiting for its MCU or its broker."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from otswarm.agent.build import make_link, open_ledger_dir
from otswarm.agent.config import parse_config
from otswarm.errors import ConfigError
from otswarm.identity import Roster, generate_private_key, sign_roster, write_key_pair

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def keys(tmp_path):
    """Operator and agent key files and a roster with a1 in it."""
    operator, agent = generate_private_key(), generate_private_key()
    write_key_pair(operator, tmp_path / "operator.key", tmp_path / "operator.pub")
    write_key_pair(agent, tmp_path / "a1.key", tmp_path / "a1.pub")
    roster = Roster("field", 3, {"a1": agent.public_key()})
    (tmp_path / "roster.json").write_bytes(sign_roster(roster, operator))
    return tmp_path


def _link_config(tmp_path, **link) -> str:
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in link.items())
    return f'[agent]\nid = "a1"\nswarm = "field"\n[link]\n{lines}'


def test_identity_and_limits_reach_the_mqtt_link(keys):
    text = _link_config(
        keys, key_file=str(keys / "a1.key"), operator_key_file=str(keys / "operator.pub"),
        roster_file=str(keys / "roster.json"), max_clock_skew_s=5, max_heartbeat_period_s=20,
        max_members=64, rate_per_s=7, rate_burst=9, connect_timeout_s=3,
    )  # fmt: skip
    link = make_link(parse_config(text))
    assert link.identity.agent == "a1" and link.roster.serial == 3
    limits = link.config.limits
    assert (limits.max_skew_s, limits.max_heartbeat_period_s, limits.max_members) == (5, 20, 64)
    assert (limits.rate_per_s, limits.burst, link.config.connect_timeout_s) == (7, 9, 3)


def test_without_keys_there_is_no_identity():
    link = make_link(parse_config('[agent]\nid = "a1"\n'))
    assert link.identity is None and link.config.limits.max_skew_s == 30


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"key_file": "missing.key"}, r"\[link\].key_file: private key .*missing.key"),
        ({"operator_key_file": "a1.key"}, r"\[link\].operator_key_file: public key"),
        ({"roster_file": "nope.json"}, r"\[link\].roster_file: roster .*cannot read"),
        ({"roster_file": "a1.pub"}, r"\[link\].roster_file: .*not JSON"),
        ({"key_file": "operator.key"}, r"\[link\].roster_file: .*another public key"),
    ],
)
def test_bad_identity_files_are_config_errors_naming_the_key(keys, change, match):
    files = {"key_file": "a1.key", "operator_key_file": "operator.pub",
             "roster_file": "roster.json", **change}  # fmt: skip
    text = _link_config(keys, **{k: str(keys / v) for k, v in files.items()})
    with pytest.raises(ConfigError, match=match):
        make_link(parse_config(text))


def test_roster_of_another_swarm_is_refused(keys):
    text = _link_config(
        keys, key_file=str(keys / "a1.key"), operator_key_file=str(keys / "operator.pub"),
        roster_file=str(keys / "roster.json"),
    ).replace('swarm = "field"', 'swarm = "other"')  # fmt: skip
    with pytest.raises(ConfigError, match="swarm 'field'"):
        make_link(parse_config(text))


@pytest.mark.parametrize(
    ("link", "match"),
    [
        ({"key_file": "a.key"}, "go together"),
        ({"roster_file": "r.json"}, "needs key_file"),
        ({"max_clock_skew_s": 0}, "max_clock_skew_s"),
        ({"max_heartbeat_period_s": 1.0}, "max_heartbeat_period_s"),  # < heartbeat_s = 2
        ({"max_members": 0}, "max_members"),
        ({"rate_per_s": 0}, "rate_per_s"),
        ({"rate_burst": 0}, "rate_burst"),
        ({"connect_timeout_s": 0}, "connect_timeout_s"),
    ],
)
def test_link_values_out_of_range_are_config_errors(tmp_path, link, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(_link_config(tmp_path, **link))


@pytest.mark.parametrize("name", ["tls_ca", "tls_cert", "tls_key", "hmac_key_file"])
def test_missing_tls_and_key_files_are_config_errors(tmp_path, name):
    text = _link_config(tmp_path, url="mqtts://broker:8883", **{name: str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match=rf"\[link\].{name}: cannot read .*nope"):
        make_link(parse_config(text))


def test_uncreatable_ledger_dir_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"\[energy\].ledger_dir: cannot create"):
        open_ledger_dir(tmp_path / "file" / "ledgers")


# -- real agent processes ----------------------------------------------------------------------


def _agent(config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "otswarm.cli", "agent", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip


def _refusing_url() -> str:
    with socket.socket() as sock:  # bound and closed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return f"mqtt://127.0.0.1:{sock.getsockname()[1]}"


def _write(tmp_path: Path, link: str, rest: str = "") -> Path:
    config = tmp_path / "agent.toml"
    config.write_text(
        f'[agent]\nid = "a1"\nlog_file = "{tmp_path / "agent.log"}"\n'
        f'[link]\n{link}\n[energy]\nledger_dir = "{tmp_path / "ledgers"}"\n{rest}'
    )
    return config


def _wait_for_log(path: Path, text: str, process, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and text in path.read_text()):
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, f"no {text!r} in the log"
        time.sleep(0.1)


def test_sigterm_is_honoured_while_waiting_for_the_mcu(tmp_path):
    config = _write(
        tmp_path, f'url = "{_refusing_url()}"',
        f'[bridge]\ndevice = "{tmp_path / "no-such-tty"}"\nopen_timeout_s = 120\n',
    )  # fmt: skip
    agent = _agent(config)
    _wait_for_log(tmp_path / "agent.log", "waiting for the microcontroller", agent)
    asked = time.monotonic()
    agent.send_signal(signal.SIGTERM)
    output, _ = agent.communicate(timeout=30)
    assert agent.returncode == 0, output
    assert time.monotonic() - asked < 10  # one MCU attempt (2 s) and a clean exit
    assert "stopped while waiting for the microcontroller" in (tmp_path / "agent.log").read_text()


def test_refused_broker_fails_after_the_configured_connect_timeout(tmp_path):
    config = _write(tmp_path, f'url = "{_refusing_url()}"\nconnect_timeout_s = 1.5')
    agent = _agent(config)
    output, _ = agent.communicate(timeout=120)
    assert agent.returncode == 1, output
    assert "no answer from the broker within the timeout" in output
    assert "Traceback" not in output


def test_sigterm_is_honoured_while_waiting_for_the_broker(tmp_path):
    config = _write(tmp_path, f'url = "{_refusing_url()}"\nconnect_timeout_s = 300')
    agent = _agent(config)
    _wait_for_log(tmp_path / "agent.log", "connecting to the broker", agent)
    time.sleep(1.0)  # inside MqttLink.start, retrying the refused port
    agent.send_signal(signal.SIGTERM)
    output, _ = agent.communicate(timeout=30)
    assert agent.returncode == 0, output


@pytest.mark.parametrize(
    ("link", "energy", "match"),
    [
        ('url = "mqtts://127.0.0.1:8883"\ntls_ca = "/nonexistent/ca.crt"', "", r"\[link\].tls_ca"),
        ("", 'ledger_dir = "/proc/otswarm-cannot"\n', r"\[energy\].ledger_dir: cannot create"),
    ],
)
def test_config_file_errors_exit_1_with_one_clear_line(tmp_path, link, energy, match):
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nid = "a1"\n[link]\n{link}\n[energy]\n{energy}')
    agent = _agent(config)
    output, _ = agent.communicate(timeout=120)
    assert agent.returncode == 1, output
    assert "Traceback" not in output
    assert re.search(match, output), output
