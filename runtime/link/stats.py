"""Traffic counters of one link, safe to bump from the network thread."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LinkStats:
    """A snapshot of a link's counters (messages and bytes are payloads, not MQTT frames).

    ``received_*`` count every payload that arrived from another agent;
    of those, ``decode_errors`` were malformed, ``rejected`` failed the swarm key,
    the signature, the clock skew, the session, the replay window or the
    topic/header match, ``throttled`` were refused by the bounds on tracked senders
    (too many senders, or one over its rate), and ``delivered`` reached the
    membership table and the handlers (or, for a roster, were adopted).
    ``handler_errors`` counts handlers that raised.
    ``dropped_offline`` counts publishes discarded (oldest first) because more than
    ``max_offline_messages`` piled up while the link was disconnected.
    """

    sent_messages: int = 0
    sent_bytes: int = 0
    received_messages: int = 0
    received_bytes: int = 0
    delivered: int = 0
    decode_errors: int = 0
    rejected: int = 0
    throttled: int = 0
    handler_errors: int = 0
    dropped_offline: int = 0


class StatsCounter:
    """Thread-safe accumulation of :class:`LinkStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = asdict(LinkStats())  # counter name -> value, bumped in place

    def add(self, **increments: int) -> None:
        """Add ``increments`` (LinkStats field names: any other is a KeyError)."""
        with self._lock:
            counts = self._counts
            for name, n in increments.items():
                counts[name] += n

    def snapshot(self) -> LinkStats:
        with self._lock:
            return LinkStats(**self._counts)
