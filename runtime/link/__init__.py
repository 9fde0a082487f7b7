"""The link to the swarm: one interface (SwarmLink), MQTT and in-process transports,
the embedded broker. Topic scheme and QoS per kind: otswarm.link.topics."""

from otswarm.link.base import Handler, SwarmLink
from otswarm.link.errors import LinkConnectError, LinkError, TopicError
from otswarm.link.inprocess import InProcessBus, InProcessLink
from otswarm.link.membership import Member
from otswarm.link.mqtt import MqttLink
from otswarm.link.mqtt_config import MqttLinkConfig
from otswarm.link.stats import LinkStats

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
