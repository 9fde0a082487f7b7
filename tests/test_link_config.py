"""MqttLinkConfig: broker URLs, credentials and bad values (ConfigError names the key)."""

from __future__ import annotations

import pytest

from otswarm.errors import ConfigError
from otswarm.link import MqttLinkConfig
from otswarm.link.topics import parse_topic, topic, topic_filter
from otswarm.summaries import Kind


def test_urls_give_host_port_and_tls():
    plain = MqttLinkConfig("mqtt://broker.local", "s", "a")
    assert (plain.host, plain.port, plain.tls) == ("broker.local", 1883, False)
    secure = MqttLinkConfig("mqtts://10.0.0.2:9883", "s", "a", hmac_key="k" * 16)
    assert (secure.host, secure.port, secure.tls, secure.hmac_key) == (
        "10.0.0.2", 9883, True, b"k" * 16,
    )  # fmt: skip
    assert MqttLinkConfig("mqtt://u:p@h", "s", "a").credentials == ("u", "p")
    assert MqttLinkConfig("mqtt://u:p@h", "s", "a", username="v", password="q").credentials == (
        "v", "q",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"broker_url": "http://h"}, "broker_url"),
        ({"broker_url": "mqtt://h:99999"}, "link"),
        ({"agent": "a/b"}, "link.agent"),
        ({"swarm": ""}, "link.swarm"),
        ({"hmac_key": "short"}, "hmac_key"),
        ({"protocol": "4"}, "protocol"),
        ({"heartbeat_period_s": 0}, "heartbeat_period_s"),
        ({"reconnect_min_s": 5, "reconnect_max_s": 1}, "reconnect_min_s"),
        ({"session_expiry_s": -1}, "session_expiry_s"),
        ({"session_expiry_s": 2**32}, "session_expiry_s"),
        ({"max_offline_messages": 0}, "max_offline_messages"),
    ],
)
def test_bad_values_name_their_key(options, key):
    with pytest.raises(ConfigError, match=key):
        MqttLinkConfig(**{"broker_url": "mqtt://h", "swarm": "s", "agent": "a", **options})


def test_topics_round_trip():
    name = topic("swarm-1", "pi.kitchen_01", Kind.ALLOCATION_PLAN)
    assert name == "otswarm/v1/swarm-1/pi.kitchen_01/allocation_plan"
    assert parse_topic(name) == ("swarm-1", "pi.kitchen_01", Kind.ALLOCATION_PLAN)
    assert topic_filter("s", Kind.STATE) == "otswarm/v1/s/+/state"
