"""Shared fixtures: a real MQTT broker on a free loopback port, the fleet broker of
docs/ (per module), warm OT kernels."""

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


@pytest.fixture(scope="module")
def fleet_broker(tmp_path_factory):
    """Mosquitto running docs/mosquitto-fleet.conf (TLS, passwords, the ACL) with its
    paths moved to a temp folder, for one test module (tests/fleet_support.py)."""
    from fleet_support import running_fleet_broker

    broker = running_fleet_broker(tmp_path_factory.mktemp("fleet"))
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
