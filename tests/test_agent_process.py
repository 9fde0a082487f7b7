"""``otswarm agent``: one agent process against a real Mosquitto and a simulated MCU on a pty.

The agent runs exactly as on a board (its own process, its TOML config, pyserial
on the pty, the shipped policy in LiteRT); the test talks to it only through
the broker, its files and signals.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from otswarm.demo.configs import write_agent_config
from otswarm.energy import LedgerReader, ledger_path
from otswarm.firmware_bridge.simulator.pty_server import start_simulator_on_pty
from otswarm.summaries import State, decode

REPO_ROOT = Path(__file__).resolve().parents[1]


def _agent(config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "otswarm.cli", "agent", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def _records(folder: Path) -> list[dict]:
    path = folder / "run.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _wait_ticks(folder: Path, n: int, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while len(_records(folder)) < n:
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, f"no {n} ticks within {timeout_s} s"
        time.sleep(0.1)


@pytest.fixture
def board():
    device, handle = start_simulator_on_pty(in_process=True, time_acceleration=240.0)
    yield device
    handle.stop()


def _config(tmp_path: Path, agent_id: str, device: str, url: str) -> Path:
    return write_agent_config(tmp_path / agent_id, agent_id, 0, device, url, 0.5, 8.0, 5)


def _retained_state(broker, swarm: str, agent_id: str) -> State:
    got: list[bytes] = []
    done = threading.Event()

    def on_message(client, userdata, message):
        got.append(message.payload)
        done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.subscribe(f"otswarm/v1/{swarm}/{agent_id}/state", qos=1)
    client.loop_start()
    try:
        assert done.wait(10), "no retained state"
    finally:
        client.loop_stop()
        client.disconnect()
    return decode(got[0]).message


def test_agent_ticks_books_and_stops_cleanly_on_sigterm(mqtt_broker, board, tmp_path):
    config = _config(tmp_path, "solo-1", board, mqtt_broker.url)
    agent = _agent(config)
    _wait_ticks(config.parent, 4, agent)
    agent.send_signal(signal.SIGTERM)
    output, _ = agent.communicate(timeout=30)
    assert agent.returncode == 0, output

    ticks = _records(config.parent)
    assert [t["tick"] for t in ticks] == list(range(len(ticks)))
    assert all(not t["errors"] for t in ticks), [t["errors"] for t in ticks]
    assert all(t["duty"] in (0.0, 0.25, 0.5, 0.75, 1.0) for t in ticks)
    assert all(abs(sum(t["policy_probs"]) - 1) < 1e-6 for t in ticks)  # a distribution
    with LedgerReader(ledger_path(tmp_path, "solo-1")) as ledger:
        totals = ledger.totals("solo-1")["solo-1"]
    for component in ("policy", "ot", "mqtt_tx", "serial", "idle"):
        assert totals[component] > 0, component
    assert _retained_state(mqtt_broker, "demo", "solo-1").online is False
    log_lines = (config.parent / "agent.log").read_text().splitlines()
    events = [json.loads(line) for line in log_lines]
    assert {e["agent"] for e in events} == {"solo-1"}
    assert {"start", "stop"} <= {e.get("event") for e in events}
    threads = next(e for e in events if e.get("event") == "start")["threads"]
    assert {"MainThread", "bridge-reader"} <= set(threads)  # names -> kernel thread ids
    assert any(name.startswith("paho-mqtt-client-") for name in threads)
    assert all(isinstance(tid, int) and tid > 0 for tid in threads.values())


def test_agent_keeps_ticking_when_peers_send_garbage(mqtt_broker, board, tmp_path):
    config = _config(tmp_path, "solo-2", board, mqtt_broker.url)
    agent = _agent(config)
    _wait_ticks(config.parent, 2, agent)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(mqtt_broker.host, mqtt_broker.port)
    client.loop_start()
    for n in range(200):
        for kind in ("histogram", "energy_offer", "allocation_plan", "state"):
            payload = os.urandom(n % 60) if n % 2 else b"OT\x01" + os.urandom(n % 40)
            client.publish(f"otswarm/v1/demo/mallory/{kind}", payload, qos=1)
    client.loop_stop()
    client.disconnect()
    before = len(_records(config.parent))
    _wait_ticks(config.parent, before + 4, agent)
    agent.send_signal(signal.SIGTERM)
    output, _ = agent.communicate(timeout=30)
    assert agent.returncode == 0, output
    ticks = _records(config.parent)
    assert all(not t["errors"] for t in ticks)
    assert all(t["peers"] == 0 for t in ticks)  # nothing from mallory counted as a peer


def test_bad_config_exits_1_and_names_the_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[agent]\nid = "a1"\n[bridge]\nbaudrate = "fast"\n')
    agent = _agent(config)
    output, _ = agent.communicate(timeout=60)
    assert agent.returncode == 1
    assert "[bridge].baudrate" in output


def test_a_board_without_mcu_runs_on_its_own_meter(mqtt_broker, tmp_path):
    folder = tmp_path / "mains-1"
    config = tmp_path / "mains.toml"
    config.write_text(
        f'[agent]\nid = "mains-1"\nswarm = "mains"\ntick_period_s = 0.5\n'
        f'record_file = "{folder / "run.jsonl"}"\nlog_file = "{folder / "agent.log"}"\n'
        f'[link]\nurl = "{mqtt_broker.url}"\n[energy]\nledger_dir = "{tmp_path}"\n'
    )
    agent = _agent(config)
    _wait_ticks(folder, 3, agent)
    agent.send_signal(signal.SIGTERM)
    output, _ = agent.communicate(timeout=30)
    assert agent.returncode == 0, output
    ticks = _records(folder)
    assert all(not t["errors"] for t in ticks), [t["errors"] for t in ticks]
    assert all(t["battery_soc"] == 1.0 and t["harvest_w"] == 0.0 for t in ticks)
    assert all(t["load_w"] > 0 for t in ticks)  # the board's meter (or its power model)
    assert all(t["given_j"] == 0 and t["received_j"] == 0 for t in ticks)
