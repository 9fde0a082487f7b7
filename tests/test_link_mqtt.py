"""MqttLink through a real broker: delivery, membership, protocol fallback."""

from __future__ import annotations

import queue

import numpy as np
import pytest

from runtime.link import LinkConnectError, MqttLink, MqttLinkConfig
from runtime.link.broker import EmbeddedBroker, free_port
from runtime.summaries import AllocationPlan, Histogram, Kind, Transfer

KEY = "swarm-key-0123456789"


def _link(url, agent, swarm="t-mqtt", **options) -> MqttLink:
    config = MqttLinkConfig(url, swarm, agent, hmac_key=KEY, reconnect_min_s=0.1, **options)
    return MqttLink(config).start(timeout=15)


def _inbox(link: MqttLink, kind: Kind, **options) -> queue.Queue:
    inbox: queue.Queue = queue.Queue()
    link.on(kind, inbox.put, **options)
    return inbox


def test_summaries_and_plans_are_delivered(mqtt_broker):
    a, b = _link(mqtt_broker.url, "a"), _link(mqtt_broker.url, "b")
    try:
        assert a.protocol == ("5" if mqtt_broker.speaks_mqtt5 else "3.1.1")
        hist, plans = _inbox(b, Kind.HISTOGRAM), _inbox(b, Kind.ALLOCATION_PLAN)
        assert b.wait_ready(10)
        weights = np.random.default_rng(1).dirichlet(np.ones(32))
        a.publish(Histogram(weights, 0, 1, 4), round=9)
        plan = AllocationPlan(9, "a", (Transfer("a", "b", 2.5),))
        a.publish(plan)
        got = hist.get(timeout=10)
        assert (got.header.agent, got.header.round, got.message.support_id) == ("a", 9, 4)
        assert np.abs(got.message.weights - weights).sum() <= 32 / (2 * 65535) + 1e-12
        assert got.size <= 128
        assert plans.get(timeout=10).message == plan
        assert b.alive() == ["a", "b"]
        assert a.stats().sent_messages >= 3 and b.stats().delivered >= 3
    finally:
        a.close()
        b.close()


def test_clean_close_announces_offline(mqtt_broker):
    a, b = (_link(mqtt_broker.url, agent, swarm="t-close") for agent in ("a", "b"))
    states = _inbox(b, Kind.STATE, sender="a")
    a.close()
    while states.get(timeout=10).message.online:
        pass
    assert not b.members()["a"].alive
    b.close()


def test_falls_back_to_mqtt311_on_a_311_only_broker():
    with EmbeddedBroker(prefer="amqtt") as broker:
        a, b = _link(broker.url, "a"), _link(broker.url, "b")
        try:
            assert (a.protocol, b.protocol) == ("3.1.1", "3.1.1")
            inbox = _inbox(b, Kind.HISTOGRAM)
            assert b.wait_ready(10)
            a.publish(Histogram(np.ones(8) / 8))
            assert inbox.get(timeout=10).header.agent == "a"
        finally:
            a.close()
            b.close()


def test_unreachable_broker_is_a_typed_error():
    with pytest.raises(LinkConnectError, match="no answer"):
        MqttLink(MqttLinkConfig(f"mqtt://127.0.0.1:{free_port()}", "t", "x")).start(timeout=1)
