"""What a viewer knows of every swarm on a broker: membership and the last telemetry.

Inbound path of one payload (never raises): topic parse -> decode (HMAC check
when the viewer has the swarm key) -> topic/header agreement -> replay window
(per swarm) -> membership and latest telemetry. Anything refused is counted in
:attr:`FleetState.dropped` and logged (at most once a second).

Times: a *retained* message (the broker's stored copy, delivered at subscribe)
is dated by its header timestamp, the sender's clock, since it may be hours
old; a live one by the viewer's clock when it arrives. An agent is **online**
when its last ``state`` said online (or it spoke in a newer session since) and
it was heard within 3 of its heartbeat periods
(:class:`otswarm.link.membership.Membership`, the rule agents use), so an agent
killed without a word shows offline by its last will, or by silence. Unlike an
agent's, the viewer's table keeps every agent it heard of (offline ones too).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from otswarm.link.errors import TopicError
from otswarm.link.membership import Membership
from otswarm.link.topics import parse_topic
from otswarm.summaries import (
    Heartbeat,
    Kind,
    ReplayGuard,
    State,
    SummaryDecodeError,
    Telemetry,
    decode,
)

log = logging.getLogger(__name__)

DEFAULT_PERIOD_S = 5.0  # heartbeat period assumed until an agent announces its own
WATCHED = (Kind.STATE, Kind.HEARTBEAT, Kind.TELEMETRY)

#: ``listener(swarm, agent, t, telemetry)``, called for every accepted telemetry
TelemetryListener = Callable[[str, str, float, Telemetry], None]


@dataclass(frozen=True)
class AgentView:
    """One agent as the viewer sees it (times in Unix seconds).

    ``announced``: what its last ``state`` said (None: no state seen);
    ``online``: announced online and heard recently; ``telemetry_t``: when its
    last telemetry was sent (None with no telemetry yet).
    """

    agent: str
    online: bool
    announced: bool | None
    last_seen: float
    telemetry: Telemetry | None
    telemetry_t: float | None


class _Swarm:
    """Per swarm: replay windows, membership and the latest telemetry of each agent."""

    def __init__(self) -> None:
        self.guard = ReplayGuard()
        self.membership = Membership(DEFAULT_PERIOD_S)
        self.announced: dict[str, bool] = {}
        self.telemetry: dict[str, tuple[float, Telemetry]] = {}


class FleetState:
    """Every swarm the viewer hears (thread-safe: the MQTT thread writes, views read).

    Args:
        key: the swarm key; when given, unsigned or wrongly signed payloads are refused.
        clock: wall clock in seconds.
    """

    def __init__(self, key: bytes | None = None, clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.clock = clock
        self.dropped = 0
        self.accepted = 0
        self._swarms: dict[str, _Swarm] = {}
        self._listeners: list[TelemetryListener] = []
        self._lock = threading.Lock()
        self._next_log = 0.0

    def add_listener(self, listener: TelemetryListener) -> None:
        self._listeners.append(listener)

    def receive(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """Take in one payload from the broker (see the module docstring); never raises."""
        now = self.clock()
        try:
            swarm, sender, kind = parse_topic(topic)
            if kind not in WATCHED:
                return
            envelope = decode(payload, key=self.key, where=topic)
            header = envelope.header
            if header.agent != sender or header.kind != kind:
                raise TopicError(f"{topic}: header says {header.agent}/{header.kind.topic_name}")
            t = min(now, header.timestamp_us / 1e6) if retained else now
            with self._lock:
                entry = self._swarms.setdefault(swarm, _Swarm())
                entry.guard.check(header, now)
                self._update(entry, sender, envelope.message, header.session, t)
                self.accepted += 1
        except (TopicError, SummaryDecodeError) as exc:
            self._dropped(exc)
            return
        if isinstance(envelope.message, Telemetry):
            for listener in self._listeners:
                try:
                    listener(swarm, sender, header.timestamp_us / 1e6, envelope.message)
                except Exception:  # a listener's bug must not stop the viewer
                    log.exception("fleet: telemetry listener %r failed", listener)

    @staticmethod
    def _update(entry: _Swarm, agent: str, message, session: int, t: float) -> None:
        if isinstance(message, State):
            if entry.membership.announced(agent, message.online, message.period_s, session, t):
                entry.announced[agent] = message.online
        elif isinstance(message, Heartbeat):
            entry.membership.heard(agent, t, session, message.period_s)
        else:
            entry.membership.heard(agent, t, session)
            if agent not in entry.telemetry or entry.telemetry[agent][0] <= t:
                entry.telemetry[agent] = (t, message)

    def _dropped(self, exc: Exception) -> None:
        with self._lock:
            self.dropped += 1
            now = time.monotonic()
            if now < self._next_log:
                return
            self._next_log = now + 1.0
        log.warning("fleet: dropped a payload: %s", exc)

    def swarms(self) -> list[str]:
        """Names of the swarms heard of, sorted."""
        with self._lock:
            return sorted(self._swarms)

    def agents(self, swarm: str) -> dict[str, AgentView]:
        """Every agent of ``swarm`` heard of, by id, evaluated now."""
        now = self.clock()
        with self._lock:
            entry = self._swarms.get(swarm)
            if entry is None:
                return {}
            members = entry.membership.snapshot(now)
            telemetry = dict(entry.telemetry)
            announced = dict(entry.announced)
        views = {}
        for agent, member in sorted(members.items()):
            t, message = telemetry.get(agent, (None, None))
            views[agent] = AgentView(
                agent, member.alive, announced.get(agent), member.last_seen, message, t
            )
        return views
