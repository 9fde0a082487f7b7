"""The operator's connection to the swarm's broker: it watches, it is not a member.

Unlike :class:`~otswarm.link.MqttLink` it announces nothing (no ``state``, no
heartbeat, no last will), so the agents never count the operator as one of
them. It follows, per agent, the retained ``state`` (online or not) and
``rollout_status`` messages of one swarm, keeps the retained rollout it found
on connecting (to put it back if a new one is withdrawn), and publishes
rollouts as the ``operator`` sender, retained, QoS 1, in a new session of its
own (the header's ``session``), signed with ``signer`` when given: a swarm with
per-agent identity checks that signature against the roster's ``operator`` entry.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import paho.mqtt.client as mqtt

from otswarm.link.errors import LinkConnectError, TopicError
from otswarm.link.mqtt_config import MqttLinkConfig
from otswarm.link.session import next_session
from otswarm.link.topics import OPERATOR, parse_topic, topic, topic_filter
from otswarm.rollout.errors import RolloutError
from otswarm.summaries import (
    Kind,
    Rollout,
    RolloutStatus,
    State,
    SummaryDecodeError,
    decode,
    encode,
)

log = logging.getLogger(__name__)


class OperatorClient:
    """Watch swarm ``config.swarm`` and publish rollouts to it (use as a context manager)."""

    def __init__(self, config: MqttLinkConfig, timeout_s: float = 10.0, signer=None) -> None:
        self.config = config
        self.signer = signer  # the operator's key: signs the message for per-agent identity
        self.swarm = config.swarm
        self.timeout_s = timeout_s
        self.online: dict[str, bool] = {}
        self.statuses: dict[str, RolloutStatus] = {}
        self.previous_rollout: bytes | None = None  # the retained payload found on connecting
        self.changed = threading.Condition()
        self._published = False
        self._session = next_session(OPERATOR, time.time)
        self._sequence = 0
        self._last_stamp_us = 0
        self._subscribed = threading.Event()
        self._connected = threading.Event()
        self._refusal: str | None = None
        self._client: mqtt.Client | None = None

    def __enter__(self) -> OperatorClient:
        self.connect()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def connect(self) -> None:
        """Connect (MQTT 5, else 3.1.1), subscribe, wait for the retained messages."""
        for protocol in (mqtt.MQTTv5, mqtt.MQTTv311):
            if self._try(protocol):
                return
        raise LinkConnectError(f"{self.config.broker_url}: {self._refusal or 'no answer'}")

    def _try(self, protocol: int) -> bool:
        cfg = self.config
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"otswarm-operator-{uuid.uuid4().hex[:8]}",
            protocol=protocol,
        )
        username, password = cfg.credentials
        if username is not None:
            client.username_pw_set(username, password)
        if cfg.tls:
            client.tls_set(ca_certs=cfg.ca_file, certfile=cfg.cert_file, keyfile=cfg.key_file)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *args: self._subscribed.set()
        client.on_message = self._on_message
        self._client = client
        try:
            client.connect(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        except OSError as exc:
            raise LinkConnectError(f"{cfg.broker_url}: {exc}") from exc
        client.loop_start()
        if self._connected.wait(self.timeout_s) and self._subscribed.wait(self.timeout_s):
            time.sleep(0.5)  # the broker sends retained messages right after the SUBACK
            return True
        client.loop_stop()
        client.disconnect()
        return False

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    # -- paho callbacks (network thread) ---------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refusal = f"the broker refused the connection: {reason_code}"
            return
        self._connected.set()
        client.subscribe(
            [
                (topic_filter(self.swarm, Kind.STATE), 1),
                (topic_filter(self.swarm, Kind.ROLLOUT_STATUS), 1),
                (topic(self.swarm, OPERATOR, Kind.ROLLOUT), 1),
            ]
        )

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            _, sender, kind = parse_topic(message.topic)
        except TopicError:  # a topic of another scheme under the same filter: not ours
            return
        if kind is Kind.ROLLOUT:
            if message.retain and not self._published and message.payload:
                self.previous_rollout = bytes(message.payload)
            return
        if not message.payload:
            return
        try:
            envelope = decode(message.payload, key=self.config.hmac_key, where=message.topic)
        except SummaryDecodeError as exc:
            log.warning("ignored %s: %s", message.topic, exc)
            return
        if envelope.header.agent != sender:
            log.warning("ignored %s: header says %s", message.topic, envelope.header.agent)
            return
        with self.changed:
            if isinstance(envelope.message, State):
                self.online[sender] = envelope.message.online
            elif isinstance(envelope.message, RolloutStatus):
                self.statuses[sender] = envelope.message
            self.changed.notify_all()

    # -- publishing ------------------------------------------------------------------------

    def online_agents(self) -> list[str]:
        with self.changed:
            return sorted(agent for agent, up in self.online.items() if up)

    def publish(self, rollout: Rollout) -> None:
        """Publish ``rollout`` retained as the operator; raise RolloutError when the broker
        refuses it (MQTT 5: PUBACK "Not authorized" for an identity the ACL does not let)."""
        self._sequence += 1
        self._last_stamp_us = max(int(time.time() * 1e6), self._last_stamp_us + 1)
        payload = encode(
            rollout, agent=OPERATOR, round=0, sequence=self._sequence,
            timestamp_us=self._last_stamp_us, session=self._session,
            key=self.config.hmac_key, signer=self.signer,
        )  # fmt: skip
        self._publish_raw(payload)

    def restore_previous(self) -> None:
        """Put back the rollout that was retained before ours (or clear ours if none was)."""
        self._publish_raw(self.previous_rollout or b"")

    def _publish_raw(self, payload: bytes) -> None:
        self._published = True
        acked = threading.Event()
        outcome: list = []

        def on_publish(client, userdata, mid, reason_code, properties):
            outcome.append(reason_code)
            acked.set()

        self._client.on_publish = on_publish
        info = self._client.publish(topic(self.swarm, OPERATOR, Kind.ROLLOUT), payload,
                                    qos=1, retain=True)  # fmt: skip
        if info.rc != mqtt.MQTT_ERR_SUCCESS or not acked.wait(self.timeout_s):
            raise RolloutError(f"{self.config.broker_url}: the rollout was not delivered")
        if outcome and getattr(outcome[0], "is_failure", False):
            raise RolloutError(f"{self.config.broker_url}: the broker refused it: {outcome[0]}")
