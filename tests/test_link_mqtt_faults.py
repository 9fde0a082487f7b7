"""MqttLink under faults: a killed agent process, a restarted broker, hostile payloads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
from link_support import KEY, inbox, mqtt_link, wait_until

from otswarm.link.broker import EmbeddedBroker, free_port
from otswarm.summaries import Histogram, Kind, encode

ROOT = Path(__file__).resolve().parents[1]
HIST = Histogram(np.ones(16) / 16, 0, 1, 2)

AGENT_PROCESS = """
import sys, time
from otswarm.link import MqttLink, MqttLinkConfig
config = MqttLinkConfig(sys.argv[1], sys.argv[2], sys.argv[3], hmac_key=sys.argv[4],
                        heartbeat_period_s=0.5)
MqttLink(config).start(timeout=15)
print("ready", flush=True)
time.sleep(120)
"""


def test_killed_agent_process_leaves_a_retained_offline_will(mqtt_broker):
    swarm = "t-kill"
    observer = mqtt_link(mqtt_broker.url, "observer", swarm)
    beats = inbox(observer, Kind.HEARTBEAT, sender="victim")
    child = subprocess.Popen(
        [sys.executable, "-c", AGENT_PROCESS, mqtt_broker.url, swarm, "victim", KEY],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        assert wait_until(lambda: "victim" in observer.alive())
        assert beats.get(timeout=10).message.period_s == 0.5
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert wait_until(lambda: not observer.members()["victim"].online)
        newcomer = mqtt_link(mqtt_broker.url, "newcomer", swarm)  # reads the retained state
        assert wait_until(lambda: "victim" in newcomer.members())
        assert not newcomer.members()["victim"].online
        assert newcomer.alive() == ["newcomer", "observer"]
        newcomer.close()
    finally:
        child.kill()
        child.wait(timeout=10)
        observer.close()


def test_no_qos1_summary_is_lost_after_the_broker_restarts():
    port = free_port()
    broker = EmbeddedBroker(port=port).start()  # Mosquitto, or amqtt without it
    sender = mqtt_link(broker.url, "sender", "t-restart")
    receiver = mqtt_link(broker.url, "receiver", "t-restart")
    got = inbox(receiver, Kind.HISTOGRAM, sender="sender")
    try:
        assert receiver.wait_ready(10)
        sender.publish(HIST)
        assert got.get(timeout=10).header.agent == "sender"
        broker.stop()
        assert wait_until(lambda: not sender.connected and not receiver.connected)
        broker = EmbeddedBroker(port=port).start()  # Mosquitto, or amqtt without it
        assert sender.wait_ready(20) and receiver.wait_ready(20)
        assert sender.connections == receiver.connections == 2
        sent = [sender.publish(HIST, round=r) for r in range(100)]
        received = [got.get(timeout=10).header.sequence for _ in sent]
        assert received == sent  # all of them, in order, once
        assert receiver.alive() == ["receiver", "sender"]
    finally:
        sender.close()
        receiver.close()
        broker.stop()


def _hostile_payloads(rng: np.random.Generator, valid: bytes, count: int) -> list[bytes]:
    payloads = []
    for i in range(count):
        if i % 3 == 0:
            payloads.append(rng.bytes(int(rng.integers(0, 200))))
        else:
            data = bytearray(valid)
            data[rng.integers(len(data))] ^= 1 + int(rng.integers(255))
            payloads.append(bytes(data[: rng.integers(1, len(data) + 1)] if i % 3 == 1 else data))
    return payloads


def test_fuzzed_payloads_from_a_raw_client_do_not_stop_a_link(mqtt_broker):
    swarm = "t-fuzz"
    honest = mqtt_link(mqtt_broker.url, "honest", swarm)
    target = mqtt_link(mqtt_broker.url, "target", swarm)
    got = inbox(target, Kind.HISTOGRAM)
    assert target.wait_ready(10)
    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    raw.connect(mqtt_broker.host, mqtt_broker.port)
    raw.loop_start()
    rng = np.random.default_rng(5)
    valid = encode(HIST, agent="mallory", round=0, sequence=1, timestamp_us=1, key=KEY.encode())
    hostile = _hostile_payloads(rng, valid, 600)
    topics = [f"otswarm/v1/{swarm}/mallory/histogram", f"otswarm/v1/{swarm}/bad agent!/histogram"]
    try:
        sent = []
        for i, payload in enumerate(hostile):
            raw.publish(topics[i % 7 == 0], payload, qos=1)
            if i % 20 == 0:
                sent.append(honest.publish(HIST))
        raw.publish(topics[0], valid, qos=1).wait_for_publish(10)  # the one genuine message
        assert wait_until(lambda: target.stats().received_messages >= len(hostile) + len(sent) + 1)
        received = [got.get(timeout=10) for _ in range(len(sent) + 1)]
        assert sorted(e.header.sequence for e in received if e.header.agent == "honest") == sent
        assert [e.header.agent for e in received].count("mallory") == 1
        stats = target.stats()
        assert stats.decode_errors + stats.rejected == len(hostile)
        assert stats.decode_errors > 0 and stats.rejected > 0
    finally:
        raw.loop_stop()
        raw.disconnect()
        honest.close()
        target.close()
