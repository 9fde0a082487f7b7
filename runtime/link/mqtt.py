"""``MqttLink``: the swarm link over an MQTT broker (paho-mqtt 2.x, callback API v2).

* Protocol: MQTT 5 first; when the broker refuses it or hangs up before CONNACK
  (amqtt, old brokers), the link starts again with MQTT 3.1.1.
* Subscriptions are (re)made in ``on_connect``, so a reconnect restores them;
  MQTT 5 subscriptions set *no local* so the broker does not echo our own messages.
* Reconnects: paho's loop retries with exponential backoff between
  ``reconnect_min_s`` and ``reconnect_max_s``. MQTT 5 sessions outlive the
  connection by ``session_expiry_s``: while an agent is away the broker keeps its
  subscriptions and queues what they match (across a broker restart too, when the
  broker persists sessions), so a reconnect resumes where it stopped.
* Offline publishes: QoS 1/2 summaries published while disconnected wait in the
  link's outbox (at most ``max_offline_messages``; when full the oldest is
  dropped, counted in ``dropped_offline`` and logged). ``on_connect`` sends, in
  publish order, the messages the broker had not acknowledged before the outage,
  then the outbox, before any new publish can overtake them.
* Membership: before every (re)connect the last will (``offline``, retained,
  QoS 1) is set and the matching ``online`` state is encoded; ``on_connect``
  publishes it retained. A heartbeat thread publishes every ``heartbeat_period_s``.
* TCP_NODELAY on the socket (paho leaves Nagle on; Mosquitto needs
  ``set_tcp_nodelay true`` for the same on its side).
* TLS (``mqtts://``: CA, client certificate and key) and username/password
  come from :class:`MqttLinkConfig`. A broker refusing the TLS session (no or a
  bad client certificate, an unknown CA) fails :meth:`MqttLink.start` at once
  with a LinkConnectError saying so, instead of a fallback to MQTT 3.1.1.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from otswarm.errors import StopRequested
from otswarm.link.base import SwarmLink
from otswarm.link.errors import LinkConnectError, LinkError
from otswarm.link.mqtt_config import MqttLinkConfig
from otswarm.link.topics import topic
from otswarm.summaries import Kind

log = logging.getLogger(__name__)

# CONNACK reasons that mean "try the older protocol": MQTT 5 0x84, MQTT 3.1.1 1
_PROTOCOL_REFUSED = ("Unsupported protocol version",)
_PROTOCOLS = {"auto": (mqtt.MQTTv5, mqtt.MQTTv311), "5": (mqtt.MQTTv5,), "3.1.1": (mqtt.MQTTv311,)}
_NAMES = {mqtt.MQTTv5: "5", mqtt.MQTTv311: "3.1.1"}
PROBE_S = 2.0  # seconds a broker has to answer an MQTT 5 CONNECT before we try 3.1.1
STOP_POLL_S = 0.2  # how often a start waiting for the broker looks at its stop event
# a closed connection is retried like a refused one; other TLS errors will not go away
_TRANSIENT_TLS = (ssl.SSLEOFError, ssl.SSLZeroReturnError)


class MqttLink(SwarmLink):
    """One agent's link through an MQTT broker.

    Args:
        config: broker address, identity, key, TLS, credentials, periods.
        track_members: keep the membership table (subscribe to state and heartbeat).
        clock: wall clock in seconds.

    After :meth:`start`, ``protocol`` is ``"5"`` or ``"3.1.1"``.
    """

    def __init__(
        self,
        config: MqttLinkConfig,
        *,
        track_members: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            config.agent,
            config.swarm,
            hmac_key=config.hmac_key,
            identity=config.identity,
            heartbeat_period_s=config.heartbeat_period_s,
            limits=config.limits,
            track_members=track_members,
            clock=clock,
        )
        self.config = config
        self.protocol: str | None = None
        self.connections = 0
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._ready = threading.Event()  # connected and every subscription acknowledged
        self._attempts: queue.Queue[str] = queue.Queue()
        self._online: bytes | None = None
        self._pending_mids: set[int] = set()
        self._outbox: deque[tuple[str, bytes, int, bool]] = deque()
        self._gate = threading.Lock()  # orders hand-overs to paho against the reconnect flush
        self._socket_error: str | None = None  # what paho last logged as an error
        self._connect_error: str | None = None  # why the last connection attempt failed
        self._stop = threading.Event()
        self._heartbeats: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(
        self, timeout: float | None = None, *, stop: threading.Event | None = None
    ) -> MqttLink:
        """Connect (MQTT 5, else 3.1.1), subscribe, announce ``online``.

        Raises LinkConnectError when the broker cannot be reached within
        ``timeout`` seconds (default: the config's ``connect_timeout_s``; attempts
        are retried with the reconnect backoff meanwhile) or refuses us (bad
        credentials, not authorised), and StopRequested as soon as ``stop`` is set.
        """
        if self._started:
            return self
        if timeout is None:
            timeout = self.config.connect_timeout_s
        deadline = time.monotonic() + timeout
        protocols = _PROTOCOLS[self.config.protocol]
        for protocol in protocols:
            client = self._make_client(protocol)
            self._client = client
            self._started = True  # on_connect may publish from now on
            probe = protocol != protocols[-1]
            outcome = self._first_connect(client, deadline, probe, stop)
            if outcome == "connected":
                self.protocol = _NAMES[protocol]
                break
            self._started = False
            client.loop_stop()
            client.disconnect()
            if outcome == "stopped":
                raise StopRequested(f"{self.agent}: stopped while connecting to the broker")
            if outcome != "protocol":
                raise LinkConnectError(f"{self.agent}: {self.config.broker_url}: {outcome}")
            log.info("%s: broker refused MQTT 5; retrying with 3.1.1", self.agent)
        else:
            raise LinkConnectError(f"{self.config.broker_url} speaks neither MQTT 5 nor 3.1.1")
        self._heartbeats = threading.Thread(
            target=self._beat, name=f"heartbeat-{self.agent}", daemon=True
        )
        self._heartbeats.start()
        return self

    def close(self) -> None:
        """Publish ``offline`` (retained), disconnect cleanly (no will), stop the loop."""
        if not self._started or self._closed:
            return
        self._stop.set()
        client = self._client
        if self._connected.is_set():
            info = self._send(Kind.STATE, self._offline())
            try:
                if info is not None:  # None: the connection dropped just now (held)
                    info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError) as exc:
                log.warning("%s: offline state not confirmed: %s", self.agent, exc)
        if self._outbox:
            log.warning("%s: closed with %d unsent messages", self.agent, len(self._outbox))
        self._closed = True
        client.disconnect(properties=self._end_session())
        client.loop_stop()
        if self._heartbeats is not None:
            self._heartbeats.join(timeout=2.0)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Block until connected and every subscription made so far is acknowledged
        by the broker (after start, after :meth:`on`, after a reconnect)."""
        return self._ready.wait(timeout)

    # -- transport hooks ---------------------------------------------------------------

    def _transmit(self, topic_name: str, payload: bytes, qos: int, retain: bool):
        """Hand a publish to paho, or hold it in the outbox while disconnected (QoS 0,
        the heartbeats, is not held: the next one replaces it). paho's MQTTMessageInfo,
        or None when held."""
        with self._gate:
            if qos == 0 or self._connected.is_set():
                return self._hand_over(topic_name, payload, qos, retain)
            if len(self._outbox) == self.config.max_offline_messages:
                self._outbox.popleft()
                self._counter.add(dropped_offline=1)
                self._log_drop(
                    "offline", f"more than {self.config.max_offline_messages} messages "
                    "published while disconnected (max_offline_messages): dropped the oldest",
                )  # fmt: skip
            self._outbox.append((topic_name, payload, qos, retain))
            return None

    def _hand_over(self, topic_name: str, payload: bytes, qos: int, retain: bool):
        info = self._client.publish(topic_name, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("%s: publish on %s failed: %s", self.agent, topic_name, info.rc)
        return info  # NO_CONN: the connection dropped unnoticed; paho keeps QoS 1/2 for later

    def _flush(self, client: mqtt.Client) -> None:
        """Send what waited for this connection, in publish order: first the messages
        paho still holds (unacknowledged before the outage), then the outbox.

        paho would resend its own only after ``on_connect`` returns, behind anything
        published meanwhile, so they are taken back and published again here; a
        receiver's replay window drops the copies the broker had already delivered.
        """
        unacknowledged = client.drop_out_messages()
        for m in unacknowledged:
            self._hand_over(m.topic, m.payload, m.qos, m.retain)
        for held in self._outbox:
            self._hand_over(*held)
        if unacknowledged or self._outbox:
            log.info(
                "%s: sent %d unacknowledged and %d held messages after reconnecting",
                self.agent, len(unacknowledged), len(self._outbox),
            )  # fmt: skip
        self._outbox.clear()

    def _subscribe(self, filter_: str, qos: int) -> None:
        if self._connected.is_set():  # else on_connect subscribes to every filter
            with self._rx_lock:
                self._ready.clear()
                _, mid = self._client.subscribe(self._subscription([(filter_, qos)]))
                self._pending_mids.add(mid)

    def _unsubscribe(self, filter_: str) -> None:
        if self._connected.is_set():
            with self._rx_lock:
                self._ready.clear()
                _, mid = self._client.unsubscribe(filter_)
                self._pending_mids.add(mid)

    # -- paho callbacks (network thread) -----------------------------------------------

    def _make_client(self, protocol: int) -> mqtt.Client:
        cfg = self.config
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"otswarm-{self.swarm}-{self.agent}-{uuid.uuid4().hex[:6]}",
            protocol=protocol,
            clean_session=True if protocol == mqtt.MQTTv311 else None,
        )
        username, password = cfg.credentials
        if username is not None:
            client.username_pw_set(username, password)
        if cfg.tls:
            try:
                client.tls_set(ca_certs=cfg.ca_file, certfile=cfg.cert_file, keyfile=cfg.key_file)
            except (OSError, ssl.SSLError) as exc:
                raise LinkConnectError(
                    f"{self.agent}: TLS files (ca {cfg.ca_file}, cert {cfg.cert_file}, "
                    f"key {cfg.key_file}) unusable: {exc}"
                ) from exc
        client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_subscribe
        client.on_socket_open = self._on_socket_open
        client.on_message = self._on_message
        client.on_log = self._on_log
        return client

    def _first_connect(
        self, client: mqtt.Client, deadline: float, probe: bool, stop: threading.Event | None
    ) -> str:
        """Connect in the background; ``"connected"``, ``"protocol"``, ``"stopped"`` (when
        ``stop`` is set meanwhile) or why it failed.

        With ``probe`` (MQTT 5 that may fall back), a broker that accepts the TCP
        connection but sends no CONNACK within PROBE_S is taken as not speaking
        MQTT 5 (amqtt waits for more bytes instead of refusing).
        """
        while not self._attempts.empty():
            self._attempts.get_nowait()
        properties = None
        if client.protocol == mqtt.MQTTv5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.config.session_expiry_s
        client.connect_async(
            self.config.host,
            self.config.port,
            keepalive=self.config.keepalive_s,
            # MQTT 5: never start clean. The client id is new, so there is nothing stale to
            # resume at first; and Mosquitto saves a session across its restarts only when
            # its last CONNECT did not ask for a clean start. (3.1.1: clean_session.)
            clean_start=False,
            properties=properties,
        )
        client.loop_start()
        answer_by = deadline
        while True:
            left = answer_by - time.monotonic()
            try:
                outcome = self._attempts.get(timeout=max(0.0, min(left, STOP_POLL_S)))
            except queue.Empty:
                if stop is not None and stop.is_set():
                    return "stopped"
                if left > STOP_POLL_S:
                    continue
                if answer_by < deadline:
                    return "protocol"
                last = f" (last error: {self._connect_error})" if self._connect_error else ""
                return f"no answer from the broker within the timeout{last}"
            if outcome != "socket":
                break
            if probe:
                answer_by = min(deadline, time.monotonic() + PROBE_S)
        if outcome != "connected":
            return outcome
        if not self._ready.wait(max(0.0, deadline - time.monotonic())):
            return "subscriptions not acknowledged within the timeout"
        return outcome

    def _end_session(self) -> Properties | None:
        """DISCONNECT properties of a clean leave: the broker drops our session now."""
        if self._client.protocol != mqtt.MQTTv5 or self.config.session_expiry_s == 0:
            return None
        properties = Properties(PacketTypes.DISCONNECT)
        properties.SessionExpiryInterval = 0
        return properties

    def _subscription(self, filters: list[tuple[str, int]]) -> list:
        if self._client.protocol == mqtt.MQTTv5:
            return [(f, SubscribeOptions(qos=q, noLocal=True)) for f, q in filters]
        return filters

    def _on_socket_open(self, client, userdata, sock) -> None:
        """Turn Nagle off: a summary is one small packet that should leave now, not
        wait up to 40 ms for the ACK of the previous one (delayed ACK)."""
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._attempts.put("socket")

    def _on_pre_connect(self, client, userdata) -> None:
        will, self._online = self._will_and_online()
        client.will_set(topic(self.swarm, self.agent, Kind.STATE), will, qos=1, retain=True)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            reason = str(reason_code)
            log.warning("%s: broker refused the connection: %s", self.agent, reason)
            self._attempts.put("protocol" if reason in _PROTOCOL_REFUSED else f"refused: {reason}")
            return
        self.connections += 1
        client.on_log = None  # connected: no need to format paho's per-packet log lines
        self._socket_error = self._connect_error = None
        with self._gate:
            self._flush(client)
            self._connected.set()
        with self._rx_lock:
            filters = list(self._filters.items())
            self._pending_mids.clear()
            if filters:
                _, mid = client.subscribe(self._subscription(filters))
                self._pending_mids.add(mid)
            else:
                self._ready.set()
        self._send(Kind.STATE, self._online)
        if self.connections > 1:
            log.info("%s: reconnected to %s", self.agent, self.config.broker_url)
        self._attempts.put("connected")

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        """SUBACK or UNSUBACK: when none is pending any more, the link is ready."""
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            log.warning("%s: broker refused (un)subscribing: %s", self.agent, failed)
        with self._rx_lock:
            self._pending_mids.discard(mid)
            if not self._pending_mids and self._connected.is_set():
                self._ready.set()

    def _on_connect_fail(self, client, userdata) -> None:
        """paho calls this inside its ``except OSError`` around the connect, so the
        error in flight says why. A TLS handshake failure ends :meth:`start`."""
        error = sys.exc_info()[1]
        self._connect_error = str(error)
        if isinstance(error, ssl.SSLError) and not isinstance(error, _TRANSIENT_TLS):
            reason = self._tls_failure(f"TLS handshake failed: {error}")
            log.warning("%s: %s: %s", self.agent, self.config.broker_url, reason)
            self._attempts.put(reason)
            return
        log.debug("%s: cannot reach %s yet (%s); retrying", self.agent, self.config.broker_url,
                  error)  # fmt: skip

    def _on_log(self, client, userdata, level, buf) -> None:
        """While not connected: keep paho's last error line (a TLS alert shows only here)."""
        if level == mqtt.MQTT_LOG_ERR:
            self._socket_error = buf

    def _tls_failure(self, reason: str) -> str:
        if self.config.cert_file is None:
            reason += "; no client certificate was offered (set cert_file and key_file)"
        return reason

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._ready.clear()
        client.on_log = self._on_log
        if self._closed:
            return
        refused = self._socket_error if "alert" in (self._socket_error or "") else None
        if refused is not None:  # a TLS alert: the broker refused the session
            refused = self._tls_failure(f"the broker refused the TLS session: {refused}")
        if not was_connected and self.connections == 0:
            self._attempts.put(refused or "protocol")  # else hung up before CONNACK: old broker
        else:
            reason = refused or reason_code
            log.warning("%s: connection lost (%s); reconnecting", self.agent, reason)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            self._receive(message.topic, message.payload)
        except Exception:  # a bug, not bad input: keep the network thread alive
            self._counter.add(decode_errors=1)
            log.exception("%s: unexpected error on %s", self.agent, message.topic)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_period_s):
            if self._connected.is_set():
                try:
                    self.heartbeat()
                except LinkError:
                    return
