"""An in-process swarm: many links on one bus, for simulations and tests.

Same semantics as MQTT through a broker: per-kind topics, retained ``state``
with a last will, the retained roster, sender-filtered subscriptions, the same
codec, HMAC, signatures and replay window, the same counters. Faults are injectable and seeded:

* ``drop``: each delivery (one sender -> one receiver) is lost with this probability;
* ``delay_s`` + uniform ``jitter_s``: deliveries go through one scheduler thread
  (jitter may reorder them, as a real network would);
* ``partition(groups)``: agents in different groups do not hear each other
  (agents named in no group form one more group together); ``heal()`` undoes it.

A payload is encoded once per publish and decoded once per swarm key, so a bus
of thousands of agents stays cheap; pass ``track_members=False`` to links that
do not need the membership table to save its N^2 memory.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable, Iterable

from otswarm.link.base import SwarmLink
from otswarm.link.errors import LinkError
from otswarm.link.topics import RETAINED, parse_filter, parse_topic, roster_topic, topic
from otswarm.summaries import Kind

ROSTER = ("roster", None)  # the subscriber key of the swarm's roster topic


class InProcessLink(SwarmLink):
    """One agent's link on an :class:`InProcessBus` (made by :meth:`InProcessBus.link`)."""

    def __init__(self, bus: InProcessBus, agent: str, **options) -> None:
        super().__init__(agent, bus.swarm, clock=bus.clock, **options)
        self.bus = bus
        self._will: bytes | None = None

    def start(self, timeout: float = 10.0) -> InProcessLink:
        if self._started:
            return self
        self._will, online = self._will_and_online()
        self._started = True
        self.bus._attach(self, list(self._filters))
        self._send(Kind.STATE, online)
        return self

    def close(self) -> None:
        """Leave cleanly: publish ``offline``, drop the will, detach."""
        if self._started and not self._closed:
            self._send(Kind.STATE, self._offline())
            self._detach()

    def kill(self) -> None:
        """Die without a goodbye: the bus publishes this link's last will."""
        if self._started and not self._closed:
            self._detach()
            self.bus._route(topic(self.swarm, self.agent, Kind.STATE), self._will)

    def _detach(self) -> None:
        self._closed = True
        self.bus._detach(self)

    def _transmit(self, topic_name: str, payload: bytes, qos: int, retain: bool) -> None:
        self.bus._route(topic_name, payload)

    def _subscribe(self, filter_: str, qos: int) -> None:
        self.bus._add_filter(self, filter_)

    def _unsubscribe(self, filter_: str) -> None:
        self.bus._remove_filter(self, filter_)


class InProcessBus:
    """A broker-less swarm inside one process.

    Args:
        swarm: the swarm name every link of this bus uses.
        seed: seeds the drop and jitter draws.
        drop: probability (0..1) that one delivery is lost.
        delay_s, jitter_s: each delivery waits ``delay_s + U(0, jitter_s)`` seconds.
        clock: wall clock shared by the links (seconds).
    """

    def __init__(
        self,
        swarm: str = "sim",
        *,
        seed: int = 0,
        drop: float = 0.0,
        delay_s: float = 0.0,
        jitter_s: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.swarm = swarm
        self.clock = clock
        self.set_faults(drop=drop, delay_s=delay_s, jitter_s=jitter_s)
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._links: dict[str, InProcessLink] = {}
        self._subscribers: dict[tuple[Kind, str | None], list[InProcessLink]] = {}
        self._retained: dict[str, tuple[str, bytes]] = {}
        self._groups: dict[str, int] = {}
        self._queue: list = []
        self._order = itertools.count()
        self._wake = threading.Condition(self._lock)
        self._pending = 0
        self._scheduler: threading.Thread | None = None
        self._closed = False
        self.dropped = 0

    def set_faults(
        self, *, drop: float | None = None, delay_s: float | None = None,
        jitter_s: float | None = None,
    ) -> None:  # fmt: skip
        """Change the injected faults (None keeps a value)."""
        if drop is not None:
            if not 0.0 <= drop <= 1.0:
                raise LinkError(f"drop must be a probability in [0, 1], got {drop}")
            self.drop = drop
        if delay_s is not None:
            self.delay_s = max(0.0, delay_s)
        if jitter_s is not None:
            self.jitter_s = max(0.0, jitter_s)

    def link(self, agent: str, **options) -> InProcessLink:
        """A new (not yet started) link for ``agent``; options as for SwarmLink."""
        return InProcessLink(self, agent, **options)

    def partition(self, *groups: Iterable[str]) -> None:
        """Split the swarm: only agents of the same group hear each other."""
        with self._lock:
            self._groups = {agent: i for i, group in enumerate(groups) for agent in group}

    def heal(self) -> None:
        self.partition()

    def links(self) -> list[InProcessLink]:
        with self._lock:
            return list(self._links.values())

    def heartbeat_all(self) -> None:
        """Every started link publishes one heartbeat (simulations call this per period)."""
        for link in self.links():
            link.heartbeat()

    def inject(self, topic_name: str, payload: bytes) -> None:
        """Publish raw bytes on ``topic_name`` as a foreign client would (fuzzing, attacks).

        Raises TopicError when the topic is outside the scheme (no subscriber could match it).
        """
        self._route(topic_name, payload)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every delayed delivery is done; True when none is left."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(left)
        return True

    def close(self) -> None:
        """Stop the scheduler (links are left as they are)."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self._scheduler is not None:
            self._scheduler.join(timeout=5)

    # -- used by InProcessLink ------------------------------------------------------------

    def _attach(self, link: InProcessLink, filters: list[str]) -> None:
        with self._lock:
            if link.agent in self._links:
                raise LinkError(f"agent {link.agent!r} is already on this bus")
            self._links[link.agent] = link
        for filter_ in filters:
            self._add_filter(link, filter_)

    def _detach(self, link: InProcessLink) -> None:
        with self._lock:
            self._links.pop(link.agent, None)
            for subscribers in self._subscribers.values():
                if link in subscribers:
                    subscribers.remove(link)

    def _add_filter(self, link: InProcessLink, filter_: str) -> None:
        """Subscribe ``link``; like a broker, hand it the retained messages that match."""
        if filter_ == roster_topic(self.swarm):
            with self._lock:
                self._subscribers.setdefault(ROSTER, []).append(link)
                retained = self._retained.get(filter_)
            if retained is not None:
                link._receive(filter_, retained[1])
            return
        _, sender, kind = parse_filter(filter_)
        with self._lock:
            self._subscribers.setdefault((kind, sender), []).append(link)
            retained = [
                (name, origin, payload)
                for name, (origin, payload) in self._retained.items()
                if name.endswith(f"/{kind.topic_name}") and sender in (None, origin)
            ]
        for name, origin, payload in retained:
            self._deliver(origin, [link], name, payload)

    def _remove_filter(self, link: InProcessLink, filter_: str) -> None:
        if filter_ == roster_topic(self.swarm):
            with self._lock:
                self._subscribers.get(ROSTER, []).remove(link)
            return
        _, sender, kind = parse_filter(filter_)
        with self._lock:
            subscribers = self._subscribers.get((kind, sender), [])
            if link in subscribers:
                subscribers.remove(link)

    def _route(self, topic_name: str, payload: bytes) -> None:
        """Fan a payload out to its subscribers (retaining the RETAINED kinds and the
        roster)."""
        if topic_name == roster_topic(self.swarm):
            with self._lock:
                self._retained[topic_name] = ("", payload)
                targets = list(self._subscribers.get(ROSTER, ()))
            for link in targets:
                link._receive(topic_name, payload)
            return
        _, origin, kind = parse_topic(topic_name)
        with self._lock:
            if kind in RETAINED:
                self._retained[topic_name] = (origin, payload)
            targets = [
                *self._subscribers.get((kind, None), ()),
                *self._subscribers.get((kind, origin), ()),
            ]
        self._deliver(origin, targets, topic_name, payload)

    def _deliver(self, sender: str, targets: list, topic_name: str, payload: bytes) -> None:
        cache: dict = {}
        with self._lock:
            sender_group = self._groups.get(sender, -1)
            chosen = []
            for link in targets:
                if link.agent == sender:
                    continue
                if self._groups.get(link.agent, -1) != sender_group or (
                    self.drop and self._rng.random() < self.drop
                ):
                    self.dropped += 1
                    continue
                chosen.append(link)
            if self.delay_s or self.jitter_s:
                for link in chosen:
                    due = time.monotonic() + self.delay_s + self._rng.uniform(0, self.jitter_s)
                    heapq.heappush(self._queue, (due, next(self._order), link, topic_name, payload))
                    self._pending += 1
                self._ensure_scheduler()
                self._wake.notify_all()
                return
        for link in chosen:
            link._receive(topic_name, payload, cache)

    def _ensure_scheduler(self) -> None:
        if self._scheduler is None:
            self._scheduler = threading.Thread(
                target=self._run_scheduler, name="inprocess-bus", daemon=True
            )
            self._scheduler.start()

    def _run_scheduler(self) -> None:
        while True:
            with self._wake:
                while not self._closed and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._wake.wait(timeout)
                if self._closed:
                    return
                _, _, link, topic_name, payload = heapq.heappop(self._queue)
            link._receive(topic_name, payload)
            with self._wake:
                self._pending -= 1
                self._wake.notify_all()
