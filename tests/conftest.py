"""Session fixtures: a real MQTT broker on a free loopback port; warm OT kernels."""

from __future__ import annotations

import os

import pytest

from otswarm.link.broker import EmbeddedBroker


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


# POT (the reference of tests/test_ot_*.py) would import TensorFlow as a backend; it is not needed.
os.environ.setdefault("POT_BACKEND_DISABLE_TENSORFLOW", "1")


@pytest.fixture(scope="session")
def ot_warm():
    """Compile (or load from the Numba cache) every OT kernel once per session."""
    from otswarm.ot import warmup

    warmup()
