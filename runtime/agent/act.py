"""Act: the agent's commands to its microcontroller, each booked as serial energy.

Without a microcontroller (:class:`AdvisoryActuator`) the duty is only kept for
the board's own workload to follow, and no energy can be moved.

:class:`BridgeActuator` sets the duty level the loads run at and moves energy
into or out of the battery (an allocation transfer). :meth:`BridgeActuator.book_serial`, which the
agent's book stage calls once per tick (and ``close`` at the end), books to the
ledger's ``serial`` component every byte on the serial line since its last
call, both ways, from the link's own counters: the commands with their retries
and the telemetry stream the MCU sends between them. :func:`move_energy`
carries out an allocation transfer and says what the MCU moved (the loop books
it).
"""

from __future__ import annotations

import logging

from otswarm.agent.errors import AgentError
from otswarm.errors import PROJECT_ERRORS
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
        self.bridge.set_power(duty, MODE_RUN)

    def transfer(self, joules: float) -> float:
        """Move ``joules`` into (+) or out of (-) the battery; return what moved (J)."""
        return float(self.bridge.transfer_energy(joules))

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


TRANSFER_TOLERANCE_J = 1e-3  # float32 joules on the wire and in the MCU's answer


def move_energy(actuator, component: str, joules: float) -> float:
    """Move ``joules`` (+ in, - out) through ``actuator.transfer``; return the signed
    joules the MCU says moved (0 when nothing was asked or the transfer failed).

    A battery that is empty (sending) or full (receiving) moves less than asked:
    the shortfall is logged with both figures (``transfer_short``). On the
    receiving side the joules the battery could not take are lost (the sender
    gave them), and nobody books them as received. A transfer the hardware
    refuses (a typed error) moves nothing.
    """
    if joules == 0.0:
        return 0.0
    try:
        moved = float(actuator.transfer(joules))
    except PROJECT_ERRORS as exc:
        log.warning("%s of %.3f J failed, nothing moved: %s", component, joules, exc)
        return 0.0
    if abs(moved - joules) > TRANSFER_TOLERANCE_J:
        why = "battery empty" if joules < 0 else "battery full: the rest is lost"
        fields = {"event": "transfer_short", "component": component,
                  "planned_j": joules, "moved_j": moved}  # fmt: skip
        log.warning("%s: moved %.3f J of the %.3f J asked (%s)", component, moved, joules, why,
                    extra={"fields": fields})  # fmt: skip
    return moved
