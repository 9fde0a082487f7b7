"""Helpers shared by the swarm-link tests (not a test module)."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from otswarm.link import MqttLink, MqttLinkConfig
from otswarm.summaries import Kind

KEY = "swarm-key-0123456789"


def mqtt_link(url: str, agent: str, swarm: str, **options) -> MqttLink:
    """A started MqttLink with the test key and a quick reconnect."""
    options.setdefault("hmac_key", KEY)
    options.setdefault("reconnect_min_s", 0.1)
    options.setdefault("reconnect_max_s", 1.0)
    return MqttLink(MqttLinkConfig(url, swarm, agent, **options)).start(timeout=15)


def inbox(link, kind: Kind, **options) -> queue.Queue:
    """A queue that receives every ``kind`` envelope the link delivers."""
    received: queue.Queue = queue.Queue()
    link.on(kind, received.put, **options)
    return received


def wait_until(condition: Callable[[], bool], timeout: float = 15.0, step: float = 0.02) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True
