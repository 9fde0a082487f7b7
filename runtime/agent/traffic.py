"""Book the swarm link's traffic to the ledger (``mqtt_tx``, ``mqtt_rx``).

The link counts the payload bytes it sends and receives; each call books the
bytes since the previous one at the board profile's radio J/byte.
"""

from __future__ import annotations


class LinkTraffic:
    """Books ``link.stats()`` byte deltas into ``ledger``."""

    def __init__(self, link, ledger) -> None:
        self.link = link
        self.ledger = ledger
        self._sent = 0
        self._received = 0

    def book(self) -> None:
        stats = self.link.stats()
        if stats.sent_bytes > self._sent:
            self.ledger.book_bytes("mqtt_tx", stats.sent_bytes - self._sent)
        if stats.received_bytes > self._received:
            self.ledger.book_bytes("mqtt_rx", stats.received_bytes - self._received)
        self._sent, self._received = stats.sent_bytes, stats.received_bytes
