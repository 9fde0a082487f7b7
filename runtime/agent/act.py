"""Act: the agent's commands to its microcontroller, each booked as serial energy.

:class:`BridgeActuator` sets the duty level the loads run at and moves energy
into or out of the battery (an allocation transfer). The bytes each command
puts on the serial line (both ways, retries included, from the link's own
counters) are booked to the ledger's ``serial`` component, and so is the
telemetry stream the MCU sends between commands.
"""

from __future__ import annotations

from firmware_bridge.protocol import MODE_RUN


class BridgeActuator:
    """Commands over a :class:`firmware_bridge.link.BridgeLink`, booked in ``ledger``."""

    def __init__(self, bridge, ledger) -> None:
        self.bridge = bridge
        self.ledger = ledger
        self._bytes_seen = 0

    def set_duty(self, duty: float) -> None:
        """Run the loads at ``duty`` (0..1) in full-clock mode."""
        try:
            self.bridge.set_power(duty, MODE_RUN)
        finally:
            self.book_serial()

    def transfer(self, joules: float) -> float:
        """Move ``joules`` into (+) or out of (-) the battery; return what moved (J)."""
        try:
            return float(self.bridge.transfer_energy(joules))
        finally:
            self.book_serial()

    def book_serial(self) -> None:
        """Book the serial bytes (in + out) since the last call."""
        stats = self.bridge.stats()
        total = stats.bytes_in + stats.bytes_out
        if total > self._bytes_seen:
            self.ledger.book_bytes("serial", total - self._bytes_seen)
        self._bytes_seen = total

    @property
    def can_share_energy(self) -> bool:
        board = self.bridge.board
        return bool(board and board.energy_sharing)

    def close(self) -> None:
        self.book_serial()
        self.bridge.close()
