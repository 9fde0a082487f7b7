"""Attacks on identity, time and membership, against real agent processes on Mosquitto.

Each test starts real ``otswarm agent`` processes (mains boards: their own meter,
no MCU), attacks them through the broker as an outsider or a member would, and
checks the invariant the attack must not break, from the agents' own run
records (``members_alive`` per tick, the peers heard) and process memory:

* no member can speak for another, and ids outside the roster are not members;
* future-stamped messages mute nobody, also across a restart of the victim;
* a replayed last will of an older session never marks a live agent offline;
* announced heartbeat periods are capped: ghosts expire;
* a flood of 40,000 distinct ids costs bounded memory and members, and the table
  is back to the real swarm once the flood stops.

The same defences are unit-tested on the in-process bus in tests/test_link_trust.py;
the plan and booking attacks are in tests/test_adversary_plans.py (trustplans).
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

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from otswarm.identity import Roster, generate_private_key, sign_roster, write_key_pair
from otswarm.summaries import Heartbeat, Histogram, State, decode, encode

REPO_ROOT = Path(__file__).resolve().parents[1]
TICK_S = 0.5
HIST = Histogram(np.ones(5) / 5, 0.0, 1.0, 1)


class Swarm:
    """Agent processes of one swarm, each in its own folder under ``root``."""

    def __init__(self, root: Path, broker, swarm: str, link: dict | None = None) -> None:
        self.root, self.broker, self.swarm = root, broker, swarm
        self.link = link or {}
        self.processes: dict[str, subprocess.Popen] = {}

    def folder(self, agent: str) -> Path:
        return self.root / agent

    def start(self, agent: str, **link) -> subprocess.Popen:
        folder = self.folder(agent)
        folder.mkdir(parents=True, exist_ok=True)
        keys = {**self.link, **link, "url": self.broker.url, "heartbeat_s": TICK_S}
        lines = "".join(f"{k} = {json.dumps(str(v) if isinstance(v, Path) else v)}\n"
                        for k, v in keys.items())  # fmt: skip
        config = folder / "agent.toml"
        config.write_text(
            f'[agent]\nid = "{agent}"\nswarm = "{self.swarm}"\ntick_period_s = {TICK_S}\n'
            f'record_file = "{folder / "run.jsonl"}"\nlog_file = "{folder / "agent.log"}"\n'
            f'[link]\n{lines}[energy]\nledger_dir = "{self.root}"\n'
        )
        before = len(self.records(agent))
        process = subprocess.Popen(
            [sys.executable, "-m", "otswarm.cli", "agent", "--config", str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )  # fmt: skip
        self.processes[agent] = process
        self.wait_ticks(agent, before + 2)
        return process

    def records(self, agent: str) -> list[dict]:
        path = self.folder(agent) / "run.jsonl"
        if not path.exists():
            return []
        lines = path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def wait_ticks(self, agent: str, n: int, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.records(agent)) < n:
            process = self.processes[agent]
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, f"{agent}: no {n} ticks in {timeout_s} s"
            time.sleep(0.05)

    def wait_alive(self, agent: str, count: int, timeout_s: float = 30) -> int:
        """Wait until ``agent`` records ``count`` members alive; the tick index it did."""
        deadline = time.monotonic() + timeout_s
        while True:
            records = self.records(agent)
            if records and records[-1]["members_alive"] == count:
                return len(records) - 1
            assert time.monotonic() < deadline, f"{agent}: never {count} alive: {records[-3:]}"
            time.sleep(0.05)

    def wait_records(self, agent: str, check, what: str, timeout_s: float = 30) -> int:
        """Wait until ``check(record)`` holds for a new record of ``agent``; its index."""
        deadline, seen = time.monotonic() + timeout_s, 0
        while True:
            records = self.records(agent)
            for index in range(seen, len(records)):
                if check(records[index]):
                    return index
            seen = len(records)
            assert time.monotonic() < deadline, f"{agent}: never {what}: {records[-3:]}"
            time.sleep(0.05)

    def alive_since(self, agent: str, tick: int) -> list[int]:
        return [r["members_alive"] for r in self.records(agent)[tick:]]

    def stop(self, agent: str, sig: int = signal.SIGTERM) -> str:
        process = self.processes.pop(agent)
        process.send_signal(sig)
        output, _ = process.communicate(timeout=30)
        return output

    def close(self) -> None:
        for agent in list(self.processes):
            self.stop(agent, signal.SIGKILL)


@pytest.fixture
def swarms(tmp_path, mqtt_broker):
    made: list[Swarm] = []

    def make(name: str, link: dict | None = None) -> Swarm:
        swarm = Swarm(tmp_path / name, mqtt_broker, name, link)
        made.append(swarm)
        return swarm

    yield make
    for swarm in made:
        swarm.close()


class Attacker:
    """A bare MQTT client publishing what it likes, as an outsider (or a member) would."""

    def __init__(self, broker) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.sequence = 0

    def send(self, swarm, topic_agent, message, *, agent=None, stamp_s=None, session=None,
             qos=1, retain=False, **keys) -> None:  # fmt: skip
        self.sequence += 1
        payload = encode(
            message, agent=agent or topic_agent, round=0, sequence=self.sequence,
            timestamp_us=int((stamp_s or time.time()) * 1e6),
            session=int(time.time()) if session is None else session, **keys,
        )  # fmt: skip
        self.raw(f"otswarm/v1/{swarm}/{topic_agent}/{message.KIND.topic_name}", payload,
                 qos=qos, retain=retain)  # fmt: skip

    def raw(self, topic: str, payload: bytes, *, qos=1, retain=False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(10)

    def retained(self, topic: str, timeout_s: float = 10) -> bytes:
        got: list[bytes] = []
        done = threading.Event()
        probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        probe.on_message = lambda c, u, m: (got.append(m.payload), done.set())
        probe.connect(self.client.host, self.client.port)
        probe.subscribe(topic, qos=1)
        probe.loop_start()
        try:
            assert done.wait(timeout_s), f"nothing retained on {topic}"
        finally:
            probe.loop_stop()
            probe.disconnect()
        return got[-1]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def attacker(mqtt_broker):
    client = Attacker(mqtt_broker)
    yield client
    client.close()


def _settle(seconds: float) -> None:
    time.sleep(seconds)


# -- identity ----------------------------------------------------------------------------------


def _signed_swarm(folder: Path, members: list[str], swarm: str) -> dict:
    """Keys, operator key and roster files; the [link] keys of each member."""
    folder.mkdir(parents=True)
    operator = generate_private_key()
    write_key_pair(operator, folder / "operator.key", folder / "operator.pub")
    keys = {}
    for agent in members:
        keys[agent] = generate_private_key()
        write_key_pair(keys[agent], folder / f"{agent}.key", folder / f"{agent}.pub")
    roster = Roster(swarm, 1, {a: k.public_key() for a, k in keys.items()})
    (folder / "roster.json").write_bytes(sign_roster(roster, operator))
    return keys


def test_a_member_cannot_speak_for_another_and_outsiders_are_no_members(swarms, attacker, tmp_path):
    keys = _signed_swarm(tmp_path / "keys", ["a0", "a1", "mallory"], "signed")
    common = {"operator_key_file": tmp_path / "keys" / "operator.pub",
              "roster_file": tmp_path / "keys" / "roster.json"}  # fmt: skip
    swarm = swarms("signed", common)
    for agent in ("a0", "a1"):
        swarm.start(agent, key_file=tmp_path / "keys" / f"{agent}.key")
    first = swarm.wait_alive("a1", 2)
    mallory = keys["mallory"]
    for _ in range(5):
        # mallory, a member with a valid key, says a0 is gone: on a0's topic, and on her own
        attacker.send("signed", "a0", State(False, 0.5), signer=mallory, retain=True)
        attacker.send("signed", "mallory", State(False, 0.5), agent="a0", signer=mallory)
        # a0's name, unsigned; and a0's name signed with a key the roster does not list
        attacker.send("signed", "a0", State(False, 0.5))
        attacker.send("signed", "a0", State(False, 0.5), signer=generate_private_key())
        # ids outside the roster announce themselves
        for i in range(20):
            attacker.send("signed", f"ghost{i}", State(True, 0.5), signer=generate_private_key())
        _settle(0.5)
    _settle(2.0)
    alive = swarm.alive_since("a1", first)
    assert alive and all(n == 2 for n in alive), alive  # a0 never left, no ghost joined
    assert max(r["peers"] for r in swarm.records("a1")[-4:]) >= 1  # a0 still heard
    log = (swarm.folder("a1") / "agent.log").read_text()
    assert "dropped rejected payload" in log


# -- time and sessions ---------------------------------------------------------------------------


def test_future_stamped_messages_mute_nobody_also_after_a_restart(swarms, attacker):
    swarm = swarms("future")
    for agent in ("a0", "a1"):
        swarm.start(agent)
    first = swarm.wait_alive("a1", 2)
    year = 365 * 86400

    def attack() -> None:
        for skew in (60, 3600, year, 30 * year):
            future = time.time() + skew
            for message in (Heartbeat(0.5), HIST, State(True, 0.5)):
                attacker.send("future", "a0", message, stamp_s=future, session=int(future))

    attack()
    _settle(3.0)
    assert all(n == 2 for n in swarm.alive_since("a1", first)), swarm.alive_since("a1", first)
    swarm.stop("a0")
    swarm.start("a0")  # a new session; its timestamps are far below the forged ones
    attack()
    restarted = swarm.wait_alive("a1", 2, timeout_s=10)
    _settle(3.0)
    assert all(n == 2 for n in swarm.alive_since("a1", restarted))
    assert max(r["peers"] for r in swarm.records("a1")[-4:]) >= 1
    assert "ahead of our clock" in (swarm.folder("a1") / "agent.log").read_text()  # it ran


def test_a_replayed_will_of_an_older_session_never_marks_the_live_agent_offline(swarms, attacker):
    swarm = swarms("wills")
    for agent in ("a0", "a1"):
        swarm.start(agent)
    swarm.wait_alive("a1", 2)
    swarm.stop("a0", signal.SIGKILL)  # no goodbye: the broker publishes a0's last will
    will = None
    deadline = time.monotonic() + 20
    while will is None:
        payload = attacker.retained("otswarm/v1/wills/a0/state")
        if not decode(payload).message.online:
            will = payload
        assert time.monotonic() < deadline, "the broker never published a0's will"
    swarm.start("a0")
    restarted = swarm.wait_alive("a1", 2)
    assert (
        decode(will).header.session
        < decode(attacker.retained("otswarm/v1/wills/a0/state")).header.session
    )
    for _ in range(3):
        attacker.raw("otswarm/v1/wills/a0/state", will, retain=True)  # replayed, retained
        _settle(0.5)
    _settle(2.0)
    assert all(n == 2 for n in swarm.alive_since("a1", restarted)), swarm.alive_since(
        "a1", restarted
    )
    assert "older than the current" in (swarm.folder("a1") / "agent.log").read_text()
    # a newcomer gets the replayed will (retained) first, then hears the live a0
    swarm.start("a2")
    joined = swarm.wait_alive("a2", 3, timeout_s=10)
    _settle(2.0)
    assert all(n == 3 for n in swarm.alive_since("a2", joined))


# -- bounded membership ---------------------------------------------------------------------------


def test_ghosts_with_huge_heartbeat_periods_expire(swarms, attacker):
    swarm = swarms("ghosts", {"max_heartbeat_period_s": 1.0})
    swarm.start("a1")
    swarm.wait_alive("a1", 1)
    for i in range(300):
        attacker.send("ghosts", f"ghost{i}", State(True, 3e38), qos=0)
        attacker.send("ghosts", f"ghost{i}", Heartbeat(3e38, 0.5), qos=0)
    swarm.wait_records("a1", lambda r: r["members_alive"] > 250, "ghosts heard", 10)
    gone = swarm.wait_alive("a1", 1, timeout_s=15)  # 3 capped periods after their heartbeat
    _settle(2.0)
    assert all(n == 1 for n in swarm.alive_since("a1", gone))


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_flood_of_40000_ids_costs_bounded_memory_and_members(swarms, attacker):
    swarm = swarms("flood", {"max_heartbeat_period_s": 1.0, "max_members": 4096})
    for agent in ("a0", "a1"):
        swarm.start(agent)
    swarm.wait_alive("a1", 2)
    pid = swarm.processes["a1"].pid
    _settle(2.0)
    before = _rss_mb(pid)
    peak = [before]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.1):
            peak[0] = max(peak[0], _rss_mb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    session = int(time.time())
    for i in range(40_000):
        payload = encode(Heartbeat(3e38, 0.5), agent=f"f{i:05d}", round=0, sequence=1,
                         timestamp_us=int(time.time() * 1e6), session=session)  # fmt: skip
        attacker.client.publish(f"otswarm/v1/flood/f{i:05d}/heartbeat", payload, qos=0)
    attacker.raw("otswarm/v1/flood/done/heartbeat", b"")  # QoS 1 behind the flood: all sent
    swarm.wait_records("a1", lambda r: r["members_alive"] > 1000, "the flood", 30)
    recovered = swarm.wait_alive("a1", 2, timeout_s=30)
    _settle(3.0)
    sampling.set()
    sampler.join()
    after = _rss_mb(pid)
    records = swarm.records("a1")
    assert max(r["members_alive"] for r in records) <= 4096 + 2  # the cap held
    assert all(n == 2 for n in swarm.alive_since("a1", recovered))  # back to the real swarm
    assert all(not r["errors"] for r in records), [r["errors"] for r in records if r["errors"]]
    # 40,000 ids without bounds cost +36 MB per agent (issue #17); the cap keeps 4,096
    assert peak[0] - before < 20, (before, peak[0], after)
    print(f"flood: RSS {before:.1f} -> peak {peak[0]:.1f} -> after {after:.1f} MB")
