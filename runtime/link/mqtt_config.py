"""Settings of one agent's MQTT link (filled from the agent's TOML by the agent loop)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from otswarm.errors import ConfigError
from otswarm.identity import AgentIdentity
from otswarm.link.limits import LinkLimits
from otswarm.summaries.errors import SummaryValueError
from otswarm.summaries.messages import check_id

_SCHEMES = {"mqtt": (1883, False), "tcp": (1883, False), "mqtts": (8883, True), "ssl": (8883, True)}
PROTOCOLS = ("auto", "5", "3.1.1")


@dataclass(frozen=True)
class MqttLinkConfig:
    """Where and how an agent connects.

    Args:
        broker_url: ``mqtt://host[:1883]`` or ``mqtts://host[:8883]`` (TLS); a
            ``user:password@`` in the URL is used when ``username`` is not given.
        swarm: the swarm's name (the topic level after ``otswarm/v1``).
        agent: this agent's id, also its MQTT username on a fleet broker.
        hmac_key: per-swarm key; a str is taken as its UTF-8 bytes. None: untagged.
        identity: this agent's Ed25519 key, the operator's public key and the roster
            (None: messages are not signed and signatures are not checked).
        ca_file, cert_file, key_file: TLS trust anchor and client certificate/key (PEM).
        username, password: broker credentials.
        heartbeat_period_s: heartbeat period (s); others expire us after 3 missed.
        keepalive_s: MQTT keepalive (s): how soon the broker notices a dead agent
            and publishes its last will (after 1.5 x keepalive without traffic).
        reconnect_min_s, reconnect_max_s: exponential reconnect backoff bounds (s).
        protocol: ``"auto"`` (MQTT 5, falling back to 3.1.1), ``"5"`` or ``"3.1.1"``.
        connect_timeout_s: how long :meth:`MqttLink.start` tries to reach the broker
            (retrying with the reconnect backoff) before it gives up.
        limits: what this receiver believes and keeps (:class:`LinkLimits`: clock
            skew, message age, heartbeat periods, tracked senders and their rate).
        session_expiry_s: MQTT 5 session expiry (s): how long the broker keeps this
            agent's subscriptions, and queues what they match, while it is
            disconnected (0: the session ends with the connection).
        max_offline_messages: QoS 1/2 publishes held while disconnected and sent in
            order on reconnect; beyond it the oldest is dropped, counted
            (``LinkStats.dropped_offline``) and logged.
    """

    broker_url: str = "mqtt://127.0.0.1:1883"
    swarm: str = "default"
    agent: str = "agent"
    hmac_key: bytes | str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    heartbeat_period_s: float = 5.0
    keepalive_s: int = 30
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    protocol: str = "auto"
    connect_timeout_s: float = 10.0
    limits: LinkLimits = field(default_factory=LinkLimits)
    identity: AgentIdentity | None = None
    session_expiry_s: int = 300
    max_offline_messages: int = 1000

    def __post_init__(self) -> None:
        url = urlsplit(self.broker_url)
        if url.scheme not in _SCHEMES or not url.hostname:
            raise ConfigError(
                f"link.broker_url {self.broker_url!r}: expected mqtt://host:port or mqtts://host:port"
            )
        try:
            url.port  # noqa: B018 - raises ValueError on a bad port
            check_id(self.swarm, "link.swarm")
            check_id(self.agent, "link.agent")
        except (ValueError, SummaryValueError) as exc:
            raise ConfigError(f"link: {exc}") from exc
        if isinstance(self.hmac_key, str):
            object.__setattr__(self, "hmac_key", self.hmac_key.encode("utf-8"))
        if self.hmac_key is not None and len(self.hmac_key) < 16:
            raise ConfigError("link.hmac_key must be at least 16 bytes")
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"link.protocol {self.protocol!r}: use one of {PROTOCOLS}")
        if self.heartbeat_period_s <= 0 or self.keepalive_s <= 0:
            raise ConfigError("link.heartbeat_period_s and link.keepalive_s must be > 0")
        if not self.connect_timeout_s > 0:
            raise ConfigError(f"link.connect_timeout_s {self.connect_timeout_s}: must be > 0")
        if self.identity is not None and self.identity.agent != self.agent:
            raise ConfigError(f"link.identity is {self.identity.agent}'s, not {self.agent}'s")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ConfigError("link: need 0 < reconnect_min_s <= reconnect_max_s")
        if not 0 <= self.session_expiry_s <= 0xFFFFFFFF:  # MQTT 5: a four-byte integer
            raise ConfigError(f"link.session_expiry_s {self.session_expiry_s}: need 0..2^32-1")
        if self.max_offline_messages < 1:
            raise ConfigError(
                f"link.max_offline_messages {self.max_offline_messages}: need at least 1"
            )

    @property
    def host(self) -> str:
        return urlsplit(self.broker_url).hostname

    @property
    def port(self) -> int:
        url = urlsplit(self.broker_url)
        return url.port or _SCHEMES[url.scheme][0]

    @property
    def tls(self) -> bool:
        return _SCHEMES[urlsplit(self.broker_url).scheme][1]

    @property
    def credentials(self) -> tuple[str | None, str | None]:
        if self.username is not None:
            return self.username, self.password
        url = urlsplit(self.broker_url)
        return url.username, url.password
