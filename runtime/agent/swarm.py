"""The agent's view of the swarm, on top of a :class:`runtime.link.base.SwarmLink`.

It publishes this agent's consensus state (a histogram over the duty levels)
once per round, keeps the latest state heard from every peer, answers "which
peers' states count this round" (alive, and published in this round or the one
before, so a peer that stopped talking drops out), and books the link's bytes
to the ledger (``mqtt_tx``, ``mqtt_rx``: payload bytes x the profile's J/byte).
"""

from __future__ import annotations

import threading

import numpy as np

from runtime.summaries import Envelope, Histogram, Kind

ACTION_SUPPORT_ID = 1  # support id of the harvest policy's duty levels on the wire
FRESH_ROUNDS = 1  # a peer state counts for the round it was sent in and the next one


def bin_edges(support: np.ndarray) -> tuple[float, float]:
    """``(lo, hi)`` of the wire histogram whose bin centres are the duty levels.

    For ``n`` levels spaced ``d`` apart the bins are ``[x_0 - d/2, x_{n-1} + d/2]``,
    so a receiver's ``Histogram.centers()`` gives back the levels themselves.
    """
    step = float(support[1] - support[0])
    return float(support[0]) - step / 2, float(support[-1]) + step / 2


class SwarmView:
    """Peer states and membership through ``link`` (already started), booked in ``ledger``."""

    def __init__(self, link, ledger, support) -> None:
        self.link = link
        self.ledger = ledger
        self.support = np.asarray(support, dtype=float)
        self._lo, self._hi = bin_edges(self.support)
        self._states: dict[str, tuple[int, np.ndarray]] = {}
        self._lock = threading.Lock()
        self._sent_bytes = 0
        self._received_bytes = 0
        link.on(Kind.HISTOGRAM, self._on_histogram)

    def _on_histogram(self, envelope: Envelope) -> None:
        message = envelope.message
        if message.support_id != ACTION_SUPPORT_ID or message.weights.size != self.support.size:
            return  # another support (e.g. an observation window): not for alignment
        with self._lock:
            self._states[envelope.header.agent] = (envelope.header.round, message.weights)

    def peer_states(self, round_: int) -> np.ndarray:
        """``(m, n)`` states of the alive peers sent in rounds ``round_ - 1`` and ``round_``."""
        alive = set(self.link.alive())
        with self._lock:
            fresh = [
                weights
                for agent, (sent, weights) in self._states.items()
                if agent in alive and round_ - FRESH_ROUNDS <= sent <= round_
            ]
        return np.array(fresh).reshape(-1, self.support.size)

    def distance_to_barycenter(self, own, neighbours) -> float:
        """W1 (duty units) between ``own`` and the W2 barycenter of ``neighbours``."""
        from runtime.coordination.alignment import align_step
        from runtime.ot import wasserstein_1d

        barycenter = align_step(own, neighbours, self.support, 1.0)
        return float(wasserstein_1d(self.support, self.support, own, barycenter))

    def publish_state(self, state, round_: int) -> None:
        message = Histogram(weights=state, lo=self._lo, hi=self._hi, support_id=ACTION_SUPPORT_ID)
        self.link.publish(message, round=round_)
        self.book_traffic()

    def members_alive(self) -> int:
        return len(self.link.alive())

    def book_traffic(self) -> None:
        """Book the payload bytes sent and received since the last call."""
        stats = self.link.stats()
        if stats.sent_bytes > self._sent_bytes:
            self.ledger.book_bytes("mqtt_tx", stats.sent_bytes - self._sent_bytes)
        if stats.received_bytes > self._received_bytes:
            self.ledger.book_bytes("mqtt_rx", stats.received_bytes - self._received_bytes)
        self._sent_bytes, self._received_bytes = stats.sent_bytes, stats.received_bytes

    def close(self) -> None:
        """Publish ``offline`` (the link's clean close) and book the last bytes."""
        self.link.close()
        self.book_traffic()
