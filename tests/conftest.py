"""Session fixtures: a real MQTT broker on a free loopback port."""

from __future__ import annotations

import pytest

from runtime.link.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def mqtt_broker():
    """A running broker for the whole test session: Mosquitto, or amqtt when the
    binary is missing (one warning line says so). Yields the EmbeddedBroker."""
    broker = EmbeddedBroker(host="127.0.0.1", port=0)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
