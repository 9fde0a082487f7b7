"""Act: the agent's commands to its microcontroller, each booked as serial energy.

Without a microcontroller (:class:`AdvisoryActuator`) the duty is only kept for
the board's own workload to follow, and no energy can be moved.

:class:`BridgeActuator` sets the duty level the loads run at and moves energy
into or out of the battery (an allocation transfer). The bytes each command
puts on the serial line (both ways, retries included, from the link's own
counters) are booked to the ledger's ``serial`` component, and so is the
telemetry stream the MCU sends between commands.
"""

from __future__ import annotations

import logging

from otswarm.agent.errors import AgentError
from otswarm.firmware_bridge.protocol import MODE_RUN

log = logging.getLogger(__name__)


class BridgeActuator:
    """Commands over a :class:`otswarm.firmware_bridge.link.BridgeLink`, booked in ``ledger``."""

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

    def close(self) -> None:
        self.book_serial()
        self.bridge.close()


class AdvisoryActuator:
    """The actuator of a board without a microcontroller: it keeps the decided duty."""

    def __init__(self) -> None:
        self.duty = 1.0

    def set_duty(self, duty: float) -> None:
        if duty != self.duty:
            log.debug("duty %.2f (advisory: no microcontroller)", duty)
        self.duty = duty

    def transfer(self, joules: float) -> float:
        raise AgentError(f"cannot move {joules:.3f} J: this board has no microcontroller")

    def book_serial(self) -> None:
        """No serial line, nothing to book."""

    def close(self) -> None:
        """Nothing to close."""
