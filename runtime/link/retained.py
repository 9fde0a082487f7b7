"""Publish one retained message with an MQTT link's settings (the operator's roster)."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt

from otswarm.link.errors import LinkConnectError
from otswarm.link.mqtt_config import MqttLinkConfig


def publish_retained(config: MqttLinkConfig, topic: str, payload: bytes) -> None:
    """Connect with ``config`` (URL, TLS, credentials), publish ``payload`` on ``topic``
    retained at QoS 1, wait for the broker's acknowledgement and disconnect.

    Raises LinkConnectError when the broker cannot be reached or refuses the
    connection or the publish (e.g. its ACL) within ``config.connect_timeout_s``.
    """
    connected, acknowledged = threading.Event(), threading.Event()
    refused: list[str] = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
        connected.set()

    def on_publish(client, userdata, mid, reason_code, properties) -> None:
        if reason_code.is_failure:  # MQTT 5 PUBACK, e.g. "Not authorized" from the ACL
            refused.append(str(reason_code))
        acknowledged.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    username, password = config.credentials
    if username is not None:
        client.username_pw_set(username, password)
    if config.tls:
        client.tls_set(ca_certs=config.ca_file, certfile=config.cert_file, keyfile=config.key_file)
    client.on_connect = on_connect
    client.on_publish = on_publish
    where = f"{config.broker_url} {topic}"
    try:
        client.connect(config.host, config.port, keepalive=config.keepalive_s)
    except OSError as exc:
        raise LinkConnectError(f"{where}: cannot connect: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(config.connect_timeout_s) or refused:
            raise LinkConnectError(f"{where}: connection refused or no answer: {refused}")
        info = client.publish(topic, payload, qos=1, retain=True)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise LinkConnectError(f"{where}: publish failed: {mqtt.error_string(info.rc)}")
        if not acknowledged.wait(config.connect_timeout_s):
            raise LinkConnectError(f"{where}: the broker did not acknowledge the publish")
        if refused:
            raise LinkConnectError(f"{where}: the broker refused the publish: {refused[0]}")
    finally:
        client.disconnect()
        client.loop_stop()
