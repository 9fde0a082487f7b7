"""MqttLink through a real broker: delivery, membership, protocol fallback."""

from __future__ import annotations

import numpy as np
import pytest
from link_support import inbox as _inbox
from link_support import mqtt_link, wait_until

from otswarm.link import LinkConnectError, MqttLink, MqttLinkConfig
from otswarm.link.broker import EmbeddedBroker, free_port
from otswarm.summaries import AllocationPlan, Histogram, Kind, Transfer


def _link(url, agent, swarm="t-mqtt", **options) -> MqttLink:
    return mqtt_link(url, agent, swarm, **options)


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


def test_terminated_broker_command_stops_its_mosquitto():
    """SIGTERM to ``otswarm broker`` must not leave Mosquitto running as an orphan."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from otswarm.link.broker import wait_for_port

    port = free_port()
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "otswarm.cli", "broker", "--port", str(port), "--kind", "mosquitto"],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    wait_for_port("127.0.0.1", port, timeout=20)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    assert len(children) == 1
    proc.terminate()
    assert proc.wait(timeout=10) == 0
    assert wait_until(lambda: not Path(f"/proc/{children[0]}").exists(), timeout=10)


def test_overlapping_subscriptions_deliver_once(mqtt_broker):
    a, b = (_link(mqtt_broker.url, agent, swarm="t-overlap") for agent in ("a", "b"))
    try:
        narrow, wide = _inbox(b, Kind.HISTOGRAM, sender="a"), _inbox(b, Kind.HISTOGRAM)
        assert b.wait_ready(10)
        sequences = [a.publish(Histogram(np.ones(2) / 2)) for _ in range(5)]
        assert [wide.get(timeout=10).header.sequence for _ in sequences] == sequences
        assert [narrow.get(timeout=10).header.sequence for _ in sequences] == sequences
        a.close()  # the offline state arrives after every histogram
        assert wait_until(lambda: not b.members()["a"].online)
        assert b.stats().rejected == 0 and wide.empty()
    finally:
        b.close()
