"""A read-only MQTT client that feeds a :class:`~otswarm.fleet.state.FleetState`.

It subscribes to the ``state``, ``heartbeat`` and ``telemetry`` topics of one
swarm (or of every swarm, ``+``, to discover them) and publishes nothing: no
``online`` state, no last will, so a viewer identity whose ACL grants reading
only is enough (docs/mosquitto-fleet.md). The broker's address, TLS files and
credentials are an agent's (:class:`~otswarm.link.mqtt_config.MqttLinkConfig`).
"""

from __future__ import annotations

import logging
import sys
import threading
import uuid

import paho.mqtt.client as mqtt

from otswarm.fleet.state import WATCHED, FleetState
from otswarm.link.errors import LinkConnectError
from otswarm.link.mqtt_config import MqttLinkConfig
from otswarm.link.topics import PREFIX

log = logging.getLogger(__name__)


def watch_filters(swarm: str | None) -> list[str]:
    """``otswarm/v1/<swarm or +>/+/<kind>`` for every watched kind."""
    return [f"{PREFIX}/{swarm or '+'}/+/{kind.topic_name}" for kind in WATCHED]


class FleetWatcher:
    """Watches ``swarm`` (every swarm when None) on the broker of ``config``.

    ``config.agent`` is only the MQTT client id's prefix (and the username when
    the config gives none); ``config.swarm`` is not used.
    """

    def __init__(self, config: MqttLinkConfig, state: FleetState, swarm: str | None) -> None:
        self.config = config
        self.state = state
        self.swarm = swarm
        self._ready = threading.Event()
        self._failure: str | None = None
        self._pending: int | None = None
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        cfg = self.config
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"otswarm-{cfg.agent}-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv311,
        )
        username, password = cfg.credentials
        if username is not None:
            client.username_pw_set(username, password)
        if cfg.tls:
            client.tls_set(ca_certs=cfg.ca_file, certfile=cfg.cert_file, keyfile=cfg.key_file)
        client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def start(self, timeout: float = 10.0) -> FleetWatcher:
        """Connect and subscribe; LinkConnectError when the broker cannot be reached
        or refuses us (or the subscriptions) within ``timeout`` seconds."""
        try:
            self._client.connect_async(self.config.host, self.config.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise LinkConnectError(f"{self.config.broker_url}: {exc}") from exc
        self._client.loop_start()
        if not self._ready.wait(timeout) or self._failure:
            self.close()
            why = self._failure or "no answer from the broker within the timeout"
            raise LinkConnectError(f"{self.config.broker_url}: {why}")
        return self

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> FleetWatcher:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- paho callbacks (network thread) -----------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._failure = f"refused: {reason_code}"
            self._ready.set()
            return
        _, self._pending = client.subscribe([(f, 1) for f in watch_filters(self.swarm)])

    def _on_connect_fail(self, client, userdata) -> None:
        """Before the first connection, a failure ends :meth:`start` (a viewer is run by a
        person or a script: say so now); afterwards paho keeps retrying."""
        if not self._ready.is_set():
            self._failure = f"cannot connect: {sys.exc_info()[1] or 'connection failed'}"
            self._ready.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if mid != self._pending:
            return
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            self._failure = f"subscriptions refused ({', '.join(refused)}): check the ACL"
        self._ready.set()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            self.state.receive(message.topic, message.payload, retained=bool(message.retain))
        except Exception:  # a bug, not bad input (receive refuses that): keep the thread alive
            log.exception("fleet: unexpected error on %s", message.topic)
