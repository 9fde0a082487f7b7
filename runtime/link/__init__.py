"""The link to the swarm: one interface (SwarmLink), MQTT and in-process transports,
the embedded broker. Topic scheme and QoS per kind: runtime.link.topics."""

from runtime.link.base import Handler, SwarmLink
from runtime.link.errors import LinkConnectError, LinkError, TopicError
from runtime.link.inprocess import InProcessBus, InProcessLink
from runtime.link.membership import Member
from runtime.link.mqtt import MqttLink
from runtime.link.mqtt_config import MqttLinkConfig
from runtime.link.stats import LinkStats

__all__ = [
    "Handler",
    "InProcessBus",
    "InProcessLink",
    "LinkConnectError",
    "LinkError",
    "LinkStats",
    "Member",
    "MqttLink",
    "MqttLinkConfig",
    "SwarmLink",
    "TopicError",
]
