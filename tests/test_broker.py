"""The embedded broker carries real MQTT traffic."""

from __future__ import annotations

import os
import queue
import subprocess
import sys

import paho.mqtt.client as mqtt
import pytest

from otswarm.link.broker import EmbeddedBroker, find_mosquitto


def _roundtrip(host: str, port: int, protocol) -> bytes:
    received: queue.Queue[bytes] = queue.Queue()
    subscribed = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=protocol)
    client.on_message = lambda c, u, msg: received.put(msg.payload)
    client.on_subscribe = lambda *a: subscribed.put(True)
    client.connect(host, port)
    client.loop_start()
    try:
        client.subscribe("otswarm/test/#", qos=1)
        subscribed.get(timeout=5)
        client.publish("otswarm/test/a", b"\x01\x02hello", qos=1).wait_for_publish(5)
        return received.get(timeout=5)
    finally:
        client.loop_stop()
        client.disconnect()


def test_publish_and_receive_through_session_broker(mqtt_broker):
    protocol = mqtt.MQTTv5 if mqtt_broker.speaks_mqtt5 else mqtt.MQTTv311
    assert _roundtrip(mqtt_broker.host, mqtt_broker.port, protocol) == b"\x01\x02hello"


def test_fixture_uses_mosquitto_whenever_installed(mqtt_broker):
    """amqtt is only the fallback; .ci/run installs Mosquitto, so CI always uses it."""
    expected = "mosquitto" if find_mosquitto() or os.environ.get("CI") else "amqtt"
    assert mqtt_broker.kind == expected


def test_amqtt_fallback_carries_mqtt311():
    with EmbeddedBroker(prefer="amqtt") as broker:
        assert broker.kind == "amqtt"
        assert _roundtrip(broker.host, broker.port, mqtt.MQTTv311) == b"\x01\x02hello"


def test_unknown_broker_kind_is_a_clear_error():
    from otswarm.errors import BrokerError

    with pytest.raises(BrokerError, match="unknown broker kind"):
        EmbeddedBroker(prefer="rabbit")


def test_otswarm_broker_command_serves_until_terminated():
    from otswarm.link.broker import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "otswarm.cli", "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=20)
        assert _roundtrip("127.0.0.1", port, mqtt.MQTTv311) == b"\x01\x02hello"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
