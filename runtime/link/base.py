"""``SwarmLink``: what an agent needs from "a link to the swarm", transport aside.

A link publishes summaries under its agent id, delivers decoded summaries of
other agents to handlers registered per kind, keeps the membership table and
counts traffic. Transports (MQTT, the in-process bus) only move bytes:
they implement :meth:`start`, :meth:`close`, ``_transmit`` and ``_subscribe``;
everything about summaries happens here, identically for both.

Inbound path (never raises): topic parse -> decode (+ HMAC check when the link
has a swarm key, + the sender's Ed25519 signature against the roster when it
has an identity) -> topic/header agreement -> admission (tracked-sender cap,
per-sender rate; a new sender while the table is full is refused before it is
even decoded) -> clock skew, session and replay window -> membership ->
handlers. A payload that fails any step is counted, logged (at most once a
second per link) and dropped. Handlers run on the transport's receiving thread
and must return quickly; an exception in a handler is counted and logged.
A link never delivers its own messages to itself.

With an identity, the link also listens to the swarm's retained roster topic
and adopts a roster signed by the operator with a higher serial than its own.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Callable

from otswarm.identity import AgentIdentity, IdentityError, Roster, parse_roster
from otswarm.link.errors import LinkError, MembershipFullError, RateLimitError, TopicError
from otswarm.link.limits import LinkLimits
from otswarm.link.membership import Member, Membership
from otswarm.link.session import next_session
from otswarm.link.stats import LinkStats, StatsCounter
from otswarm.link.topics import (
    OPERATOR,
    OPERATOR_KINDS,
    QOS,
    RETAINED,
    parse_topic,
    roster_topic,
    topic,
    topic_filter,
)
from otswarm.summaries import (
    AuthenticationError,
    Envelope,
    Heartbeat,
    Kind,
    Message,
    ReplayError,
    ReplayGuard,
    State,
    SummaryDecodeError,
    decode,
    encode,
)
from otswarm.summaries.kinds import MESSAGE_TYPES
from otswarm.summaries.messages import check_id

log = logging.getLogger(__name__)

Handler = Callable[[Envelope], None]
MEMBERSHIP_KINDS = (Kind.STATE, Kind.HEARTBEAT)
MAX_SEQUENCE = 0xFFFFFFFF  # the header's u32
_MESSAGE_CLASSES = frozenset(MESSAGE_TYPES.values())
EXPIRE_EVERY_S = 1.0  # how often the membership table drops silent senders


class SwarmLink(abc.ABC):
    """A link from agent ``agent`` to swarm ``swarm``.

    Args:
        agent: this agent's id (1-32 of ``A-Z a-z 0-9 _ . -``).
        swarm: the swarm's name (same rule).
        hmac_key: the per-swarm key; when given, every message sent is tagged and
            every message received must carry a valid tag.
        identity: this agent's own key and the operator's roster; when given, every
            message sent is signed and every message received must be signed by
            the key the roster gives its sender.
        heartbeat_period_s: how often this agent says it is alive (announced to
            the others, who expire it after 3 silent periods).
        limits: what this receiver believes and keeps (skew, age, periods, senders).
        track_members: subscribe to ``state`` and ``heartbeat`` to keep :meth:`members`.
        clock: wall clock in seconds (header timestamps, sessions, last-seen times).
    """

    def __init__(
        self,
        agent: str,
        swarm: str,
        *,
        hmac_key: bytes | None = None,
        identity: AgentIdentity | None = None,
        heartbeat_period_s: float = 5.0,
        limits: LinkLimits | None = None,
        track_members: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.agent = check_id(agent, "agent id")
        self.swarm = check_id(swarm, "swarm name")
        if heartbeat_period_s <= 0:
            raise LinkError(f"heartbeat_period_s must be > 0, got {heartbeat_period_s}")
        self.hmac_key = hmac_key
        self.identity = identity
        self.roster: Roster | None = identity.roster if identity is not None else None
        self.heartbeat_period_s = float(heartbeat_period_s)
        self.limits = limits or LinkLimits()
        self.track_members = track_members
        self.clock = clock
        self._counter = StatsCounter()
        self._guard = ReplayGuard(self.limits.max_age_s, self.limits.max_skew_s)
        self._membership = Membership(self.heartbeat_period_s, self.limits)
        self._next_expiry = 0.0
        self._handlers: dict[Kind, list[tuple[str | None, Handler]]] = {}
        self._filters: dict[str, int] = {}
        self._tx_lock = threading.Lock()
        self._rx_lock = threading.Lock()
        self._session = next_session(self.agent, clock)
        self._sequence = 0
        self._last_stamp_us = 0
        self._round = 0
        self._started = False
        self._closed = False
        self._next_drop_log = 0.0
        self._suppressed = 0
        if track_members:
            for kind in MEMBERSHIP_KINDS:
                self._filters[topic_filter(swarm, kind)] = QOS[kind]
        if identity is not None:
            self._filters[roster_topic(swarm)] = 1

    # -- what a transport implements -------------------------------------------------

    @abc.abstractmethod
    def start(self, timeout: float = 10.0) -> SwarmLink:
        """Connect, subscribe, announce ``online``; return self. Raises LinkConnectError."""

    @abc.abstractmethod
    def close(self) -> None:
        """Announce ``offline`` and disconnect (a clean leave: the last will is not sent)."""

    @abc.abstractmethod
    def _transmit(self, topic_name: str, payload: bytes, qos: int, retain: bool):
        """Hand one payload to the transport."""

    @abc.abstractmethod
    def _subscribe(self, filter_: str, qos: int) -> None:
        """Start receiving ``filter_`` (called for filters added after :meth:`start`)."""

    @abc.abstractmethod
    def _unsubscribe(self, filter_: str) -> None:
        """Stop receiving ``filter_`` (a wider filter of the same kind replaced it)."""

    def wait_ready(self, timeout: float) -> bool:
        """Block until connected and every subscription made so far is in place;
        False on timeout. (The in-process bus is always ready once started.)"""
        return self._started and not self._closed

    # -- the public interface ------------------------------------------------------------

    @property
    def session(self) -> int:
        """This link's session number (the header's ``session``)."""
        return self._session

    def on(self, kind: Kind, handler: Handler, *, sender: str | None = None) -> None:
        """Call ``handler(envelope)`` for every ``kind`` message from ``sender`` (or anyone).

        ``sender`` narrows the subscription on the broker, so an agent listening to
        its cluster head only receives the head's messages. Subscriptions never
        overlap: a filter for every sender replaces the per-sender ones of its kind
        (so no message arrives twice).
        """
        kind = Kind(kind)
        if sender is not None:
            check_id(sender, "sender")
        filter_ = topic_filter(self.swarm, kind, sender)
        wildcard = topic_filter(self.swarm, kind)
        with self._rx_lock:
            self._handlers.setdefault(kind, []).append((sender, handler))
            new = filter_ not in self._filters and wildcard not in self._filters
            replaced = []
            if new:
                if sender is None:
                    prefix = wildcard.rsplit("/", 2)[0] + "/"
                    suffix = "/" + kind.topic_name
                    replaced = [
                        f for f in self._filters if f.startswith(prefix) and f.endswith(suffix)
                    ]
                    for old in replaced:
                        del self._filters[old]
                self._filters[filter_] = QOS[kind]
        if new and self._started:
            self._subscribe(filter_, QOS[kind])
            for old in replaced:
                self._unsubscribe(old)

    def publish(self, message: Message, *, round: int | None = None) -> int:
        """Sign (with a key), encode and send ``message``; return its sequence number.

        ``round`` is the coordination round written in the header; it defaults to
        the last round given (0 at first).
        """
        if not self._started or self._closed:
            raise LinkError(f"link {self.agent}: publish before start() or after close()")
        if type(message) not in _MESSAGE_CLASSES:
            raise LinkError(f"cannot publish {type(message).__name__}: not a message kind")
        if round is not None:
            self._round = round
        payload, sequence = self._encode(message)
        self._send(message.KIND, payload)
        return sequence

    def heartbeat(self, battery_soc: float | None = None) -> int:
        """Publish one heartbeat now (transports also send them periodically)."""
        return self.publish(Heartbeat(self.heartbeat_period_s, battery_soc))

    def members(self) -> dict[str, Member]:
        """Every agent heard of, this one included, with ``alive`` evaluated now."""
        now = self.clock()
        with self._rx_lock:
            self._expire(now)
            table = self._membership.snapshot(now)
        table[self.agent] = Member(
            self.agent, self._started and not self._closed, now, self.heartbeat_period_s,
            self._started and not self._closed,
        )  # fmt: skip
        return table

    def alive(self) -> list[str]:
        """Sorted ids of the agents alive now, this one included (the alive ones of
        :meth:`members`, without building that table)."""
        now = self.clock()
        with self._rx_lock:
            self._expire(now)
            alive = [agent for agent in self._membership.alive(now) if agent != self.agent]
        if self._started and not self._closed:
            alive.append(self.agent)
        return sorted(alive)

    def is_alive(self, agent: str) -> bool:
        """``agent in alive()``, without building the list (called for every offer)."""
        if agent == self.agent:
            return self._started and not self._closed
        now = self.clock()
        with self._rx_lock:
            self._expire(now)
            return self._membership.is_alive(agent, now)

    def tracked(self) -> int:
        """How many other senders this receiver keeps state for now (at most
        ``limits.max_members``)."""
        with self._rx_lock:
            return len(self._membership)

    def stats(self) -> LinkStats:
        return self._counter.snapshot()

    def __enter__(self) -> SwarmLink:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- shared machinery for transports -------------------------------------------------

    def _encode(self, message: Message) -> tuple[bytes, int]:
        with self._tx_lock:
            if self._sequence == MAX_SEQUENCE:  # after 2^32 - 1 messages: a new session
                self._session, self._sequence = next_session(self.agent, self.clock), 0
            self._sequence += 1
            self._last_stamp_us = max(int(self.clock() * 1e6), self._last_stamp_us + 1)
            payload = encode(
                message,
                agent=self.agent,
                round=self._round,
                sequence=self._sequence,
                timestamp_us=self._last_stamp_us,
                session=self._session,
                key=self.hmac_key,
                signer=self.identity.key if self.identity is not None else None,
            )
            return payload, self._sequence

    def _send(self, kind: Kind, payload: bytes):
        """Transmit an encoded payload of ``kind`` on this agent's topic, count it, and
        return what the transport returns for it (paho's MQTTMessageInfo)."""
        result = self._transmit(
            topic(self.swarm, self.agent, kind), payload, QOS[kind], kind in RETAINED
        )
        self._counter.add(sent_messages=1, sent_bytes=len(payload))
        return result

    def _will_and_online(self) -> tuple[bytes, bytes]:
        """The last will (``offline``) and the ``online`` state, encoded back to back.

        The will takes the lower sequence, so when it is delivered after the
        ``online`` it was set with, receivers accept it as a late in-window message.
        """
        will, _ = self._encode(State(False, self.heartbeat_period_s))
        online, _ = self._encode(State(True, self.heartbeat_period_s))
        return will, online

    def _offline(self) -> bytes:
        return self._encode(State(False, self.heartbeat_period_s))[0]

    def _receive(self, topic_name: str, payload: bytes, cache: dict | None = None) -> None:
        """Inbound path of one payload (see the module docstring); never raises.

        ``cache`` (the in-process bus) maps a receiver's keys to the decode outcome
        of this payload, so a message is decoded once per key, not once per receiver.
        """
        if self.identity is not None and topic_name == roster_topic(self.swarm):
            self._adopt_roster(payload)
            return
        try:
            _, sender, kind = parse_topic(topic_name)
        except TopicError as exc:
            self._counter.add(received_messages=1, received_bytes=len(payload), rejected=1)
            self._log_drop("rejected", exc)
            return
        if sender == self.agent or (not payload and kind in RETAINED):  # a retained one cleared
            return
        self._counter.add(received_messages=1, received_bytes=len(payload))
        with self._rx_lock:  # a new sender while the table is full: refused before decoding
            self._expire(self.clock())
            full = self._membership.full_for(sender)
        if full:
            self._counter.add(throttled=1)
            self._log_drop(
                "throttled",
                f"{topic_name}: {self.limits.max_members} senders "
                "tracked (max_members); new senders wait for silent ones to expire",
            )
            return
        try:
            envelope = self._decode(payload, topic_name, cache)
            header = envelope.header
            if header.agent != sender or header.kind != kind:
                raise AuthenticationError(
                    f"{topic_name}: header says {header.agent}/{header.kind.topic_name}"
                )
            with self._rx_lock:
                now = self.clock()
                self._expire(now)
                member = sender != OPERATOR or kind not in OPERATOR_KINDS  # the operator is not
                if member:
                    self._membership.admit(sender, now)
                self._guard.check(header, now)
                if member:
                    self._update_membership(envelope, now)
                handlers = [h for s, h in self._handlers.get(kind, ()) if s is None or s == sender]
        except (MembershipFullError, RateLimitError) as exc:
            self._counter.add(throttled=1)
            self._log_drop("throttled", exc)
            return
        except (AuthenticationError, ReplayError) as exc:
            self._counter.add(rejected=1)
            self._log_drop("rejected", exc)
            return
        except SummaryDecodeError as exc:
            self._counter.add(decode_errors=1)
            self._log_drop("malformed", exc)
            return
        self._counter.add(delivered=1)
        for handler in handlers:
            try:
                handler(envelope)
            except Exception:
                self._counter.add(handler_errors=1)
                log.exception("%s: handler %r failed on %s", self.agent, handler, topic_name)

    def _decode(self, payload: bytes, topic_name: str, cache: dict | None) -> Envelope:
        roster = self._current_roster(topic_name)
        if cache is None:
            return decode(payload, key=self.hmac_key, roster=roster, where=topic_name)
        keys = (self.hmac_key, id(roster))
        outcome = cache.get(keys)
        if outcome is None:
            try:
                outcome = decode(payload, key=self.hmac_key, roster=roster, where=topic_name)
            except SummaryDecodeError as exc:
                outcome = exc
            cache[keys] = outcome
        if isinstance(outcome, SummaryDecodeError):
            raise outcome
        return outcome

    def _current_roster(self, topic_name: str) -> Roster | None:
        if self.identity is not None and self.roster is None:
            raise AuthenticationError(f"{topic_name}: no roster yet to check its signature")
        return self.roster

    def _adopt_roster(self, payload: bytes) -> None:
        """A roster on the swarm's roster topic: adopt it when the operator signed it
        for this swarm and its serial is higher than the one held."""
        self._counter.add(received_messages=1, received_bytes=len(payload))
        where = roster_topic(self.swarm)
        try:
            roster = parse_roster(payload, self.identity.operator, swarm=self.swarm, where=where)
        except IdentityError as exc:
            self._counter.add(rejected=1)
            self._log_drop("roster", exc)
            return
        current = self.roster
        if current is not None and roster.serial <= current.serial:
            if roster.serial < current.serial:
                self._log_drop("roster", f"roster #{roster.serial} is older than #{current.serial}")
            return
        self.roster = roster
        self._counter.add(delivered=1)
        log.info(
            "%s: roster #%d of swarm %s adopted (%d agents)",
            self.agent, roster.serial, self.swarm, len(roster.agents),
        )  # fmt: skip
        if self.agent not in roster:
            log.warning("%s: this agent is not in roster #%d", self.agent, roster.serial)

    def _expire(self, now: float) -> None:
        """Drop silent senders from the membership table and the replay guard (at most
        once every EXPIRE_EVERY_S; the caller holds ``_rx_lock``)."""
        if now < self._next_expiry:
            return
        self._next_expiry = now + EXPIRE_EVERY_S
        for agent in self._membership.expire(now):
            self._guard.forget(agent)

    def _update_membership(self, envelope: Envelope, now: float) -> None:
        message, header = envelope.message, envelope.header
        if isinstance(message, State):
            self._membership.announced(
                header.agent, message.online, message.period_s, header.session, now
            )
        elif isinstance(message, Heartbeat):
            self._membership.heard(header.agent, now, header.session, message.period_s)
        else:
            self._membership.heard(header.agent, now, header.session)

    def _log_drop(self, what: str, exc: Exception | str) -> None:
        """Log a dropped payload, at most once a second per link (the rest are counted)."""
        now = time.monotonic()
        if now < self._next_drop_log:
            self._suppressed += 1
            return
        extra = f" ({self._suppressed} more since the last line)" if self._suppressed else ""
        log.warning("%s: dropped %s payload: %s%s", self.agent, what, exc, extra)
        self._next_drop_log = now + 1.0
        self._suppressed = 0
