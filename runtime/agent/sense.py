"""Sense: what the board measures right now, as the quantities the policy needs.

A :class:`Reading` is what the rest of the tick works from. It comes from the
microcontroller's telemetry over the serial bridge (:class:`BridgeSense`), or,
on a mains-powered board without one, from the board's own power meter
(:class:`MeterSense`: no battery to manage, no harvest). The
time of day is the board's local clock, or the MCU's clock since boot plus the
hour it booted at (``[bridge].clock = "mcu"``; the simulator keeps a day).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from otswarm.agent.errors import TelemetryError

log = logging.getLogger(__name__)

_MS_PER_HOUR = 3_600_000.0


@dataclass(frozen=True)
class Reading:
    """One sample of the board. Units: state of charge 0..1, watts, hours, duty 0..1."""

    battery_soc: float
    harvest_w: float
    load_w: float
    duty: float
    hour_of_day: float
    battery_energy_j: float  # energy stored in the battery, J
    mcu_time_s: float  # the MCU's clock, s (measures a round in the board's own time)
    battery_capacity_j: float = 0.0  # the battery's capacity, J (0: not known)

    def quantities(self, received_w: float) -> dict[str, float]:
        """The inputs of :func:`otswarm.policy.build_observation`."""
        return {
            "battery_soc": self.battery_soc,
            "harvest_w": self.harvest_w,
            "load_w": self.load_w,
            "hour_of_day": self.hour_of_day,
            "duty": self.duty,
            "received_w": received_w,
        }


def received_power_w(received_j: float, round_s: float) -> float:
    """The policy's ``received_w``: joules taken in from the swarm over the last round
    divided by that round's length *in the board's own time* (the MCU clock), W.

    The training environment divides the energy shared in a step by the step's
    length (``received / dt_h``); a board whose clock runs faster than the wall
    clock (the demo's simulators, x240) lives a longer round than the wall period.
    0 when the round length is not known yet.
    """
    return received_j / round_s if round_s > 0 else 0.0


def local_hour(t: float | None = None) -> float:
    """Hours since local midnight at Unix time ``t`` (now by default)."""
    tm = time.localtime(t)
    return tm.tm_hour + tm.tm_min / 60.0 + tm.tm_sec / 3600.0


MIN_SOC_FOR_CAPACITY = 0.05  # below this, stored J / SoC is too coarse to learn a capacity


class BridgeSense:
    """Readings from the MCU's latest telemetry frame (``bridge``: a BridgeLink).

    The battery's capacity is the configured one (``[bridge].battery_capacity_j``);
    without it, it is learned from the telemetry as ``battery_energy_j / soc``
    once the state of charge is at least ``MIN_SOC_FOR_CAPACITY``, and kept. A
    board that boots empty with no configured capacity does not know its deficit
    until it has some charge (it is logged once).
    """

    def __init__(
        self,
        bridge,
        clock: str = "local",
        mcu_boot_hour: float = 0.0,
        wait_s: float = 2.0,
        capacity_j: float | None = None,
    ) -> None:
        if clock not in ("local", "mcu"):
            raise TelemetryError(f"clock must be 'local' or 'mcu', got {clock!r}")
        if capacity_j is not None and not capacity_j > 0:
            raise TelemetryError(f"battery capacity must be > 0 J, got {capacity_j!r}")
        self.bridge = bridge
        self.clock = clock
        self.mcu_boot_hour = mcu_boot_hour
        self.wait_s = wait_s
        self.capacity_j = capacity_j
        self._configured = capacity_j is not None
        self._said_unknown = False

    def _capacity(self, soc: float, energy_j: float) -> float:
        if not self._configured and soc >= MIN_SOC_FOR_CAPACITY:
            self.capacity_j = energy_j / soc
        if self.capacity_j is None and not self._said_unknown:
            self._said_unknown = True
            log.warning(
                "%s: battery capacity unknown (SoC %.3f): set [bridge].battery_capacity_j; "
                "until then this board asks for no energy",
                self.bridge.port,
                soc,
            )
        return self.capacity_j or 0.0

    def read(self) -> Reading:
        telemetry = self.bridge.latest_telemetry() or self.bridge.wait_telemetry(self.wait_s)
        values = {
            "battery_soc": telemetry.soc,
            "harvest_w": telemetry.harvest_w,
            "load_w": telemetry.power_w,
            "duty": telemetry.duty,
            "battery_energy_j": telemetry.battery_energy_j,
        }
        for name, value in values.items():
            if not math.isfinite(value):
                raise TelemetryError(f"{self.bridge.port}: telemetry field {name} is {value}")
        if self.clock == "mcu":
            hour = (self.mcu_boot_hour + telemetry.mcu_time_ms / _MS_PER_HOUR) % 24.0
        else:
            hour = local_hour()
        capacity = self._capacity(telemetry.soc, telemetry.battery_energy_j)
        return Reading(
            hour_of_day=hour,
            mcu_time_s=telemetry.mcu_time_ms / 1000.0,
            battery_capacity_j=capacity,
            **values,
        )


class MeterSense:
    """Readings of a board without a microcontroller, from its power meter.

    The load is what the meter reads (W); such a board is mains-powered: its
    battery is reported full with no stored energy to share (so it offers and
    asks for nothing) and it harvests nothing. The duty is the last one decided.
    """

    def __init__(self, meter, actuator) -> None:
        self.meter = meter
        self.actuator = actuator

    def read(self) -> Reading:
        sample = self.meter.read()
        return Reading(
            battery_soc=1.0,
            harvest_w=0.0,
            load_w=sample.watts,
            duty=self.actuator.duty,
            hour_of_day=local_hour(sample.t),
            battery_energy_j=0.0,
            mcu_time_s=sample.t,
        )
