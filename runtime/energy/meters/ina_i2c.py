"""INA219 / INA226 current and power monitors read over I2C, register by register.

The chip measures the shunt voltage V_sh and the bus voltage V_bus; the host
programs a calibration so that it also reports current and power:

    current_lsb = I_max / 2**15                       (A per bit)
    CAL = trunc(k / (current_lsb * R_shunt))          k = 0.04096 (INA219), 0.00512 (INA226)
    P = POWER_register * power_lsb                    power_lsb = 20 (INA219) or 25 (INA226)
                                                      times current_lsb, in W

(TI datasheets SBOS448 section 8.5.1 and SBOS547 section 7.5). Registers are
16-bit, big-endian on the wire. A chip that lost its calibration (brown-out)
reads power 0: the driver writes the calibration again and computes that one
reading as V_bus * V_sh / R_shunt. ``smbus2`` (the ``sensors`` extra) is
imported only when a bus is opened.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from otswarm.energy.errors import MeterError, MeterUnavailableError
from otswarm.energy.meters.base import Clock, PowerReadingMeter

log = logging.getLogger(__name__)

REG_CONFIG, REG_SHUNT, REG_BUS, REG_POWER, REG_CURRENT, REG_CALIBRATION = range(6)
REG_MANUFACTURER_ID = 0xFE
TI_MANUFACTURER_ID = 0x5449  # "TI"


class I2CBus(Protocol):
    """The part of ``smbus2.SMBus`` the driver uses."""

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None: ...


@dataclass(frozen=True)
class InaChip:
    """Register scales of one chip model (datasheet values)."""

    name: str
    cal_constant: float  # k in CAL = k / (current_lsb * R_shunt)
    power_lsb_factor: int  # power_lsb = factor * current_lsb
    shunt_lsb_v: float  # V per bit of the shunt-voltage register
    bus_lsb_v: float  # V per bit of the bus-voltage field
    bus_shift: int  # the bus-voltage field starts at this bit
    config: int  # configuration word written at start
    manufacturer_id: int | None  # value of register 0xFE, if the chip has it


# INA219: 32 V range, PGA /8 (±320 mV), 12-bit shunt and bus ADC, continuous (0x399F, default)
INA219 = InaChip("ina219", 0.04096, 20, 10e-6, 4e-3, 3, 0x399F, None)
# INA226: 16-sample averaging, 1.1 ms conversions, continuous shunt and bus (0x4527)
INA226 = InaChip("ina226", 0.00512, 25, 2.5e-6, 1.25e-3, 0, 0x4527, TI_MANUFACTURER_ID)
CHIPS = {chip.name: chip for chip in (INA219, INA226)}


def calibration(chip: InaChip, shunt_ohm: float, max_current_a: float) -> tuple[int, float]:
    """(CAL register value, current_lsb in A/bit) for a shunt (Ω) and full-scale current (A)."""
    if not (shunt_ohm > 0 and max_current_a > 0):
        raise MeterError(f"{chip.name}: shunt_ohm and max_current_a must be > 0")
    current_lsb = max_current_a / 2**15
    cal = math.trunc(chip.cal_constant / (current_lsb * shunt_ohm))
    if not 0 < cal <= 0xFFFF:
        raise MeterError(
            f"{chip.name}: calibration {cal} out of range for shunt {shunt_ohm} Ω and "
            f"{max_current_a} A full scale; choose a different max_current_a"
        )
    return cal & (0xFFFE if chip is INA219 else 0xFFFF), current_lsb


def _open_smbus(bus: int) -> Any:
    try:
        import smbus2
    except ImportError as exc:
        raise MeterUnavailableError(
            "reading INA sensors over I2C needs smbus2: pip install 'otswarm[sensors]'"
        ) from exc
    try:
        return smbus2.SMBus(bus)
    except OSError as exc:
        raise MeterUnavailableError(f"/dev/i2c-{bus}: cannot open: {exc.strerror}") from exc


class InaI2CMeter(PowerReadingMeter):
    """Board power from an INA219/INA226 at ``address`` on I2C ``bus``.

    ``smbus`` is any object with smbus2's block read/write methods; by default
    ``smbus2.SMBus(bus)`` is opened.
    """

    def __init__(
        self,
        chip: str = "ina226",
        bus: int = 1,
        address: int = 0x40,
        shunt_ohm: float = 0.1,
        max_current_a: float = 3.2,
        *,
        smbus: I2CBus | None = None,
        sample_period_s: float = 0.1,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(clock)
        if chip not in CHIPS:
            raise MeterError(f"unknown INA chip {chip!r} (one of {', '.join(CHIPS)})")
        self.chip = CHIPS[chip]
        self.address = address
        self.shunt_ohm = shunt_ohm
        self.where = f"{chip} at i2c-{bus} 0x{address:02x}"
        self.source = f"{chip}:i2c-{bus}:0x{address:02x}"
        self.sample_period_s = sample_period_s
        self.cal, self.current_lsb = calibration(self.chip, shunt_ohm, max_current_a)
        self.power_lsb = self.chip.power_lsb_factor * self.current_lsb
        self._owns_bus = smbus is None
        self._bus = _open_smbus(bus) if smbus is None else smbus
        self._check_identity()
        self._write(REG_CONFIG, self.chip.config)
        self._write(REG_CALIBRATION, self.cal)

    def _read(self, register: int) -> int:
        try:
            msb, lsb = self._bus.read_i2c_block_data(self.address, register, 2)
        except OSError as exc:
            raise MeterError(
                f"{self.where}: read of register 0x{register:02x} failed: {exc}"
            ) from exc
        return (msb << 8) | lsb

    def _write(self, register: int, value: int) -> None:
        try:
            self._bus.write_i2c_block_data(self.address, register, [value >> 8, value & 0xFF])
        except OSError as exc:
            raise MeterError(
                f"{self.where}: write of register 0x{register:02x} failed: {exc}"
            ) from exc

    def _check_identity(self) -> None:
        if self.chip.manufacturer_id is None:
            return
        found = self._read(REG_MANUFACTURER_ID)
        if found != self.chip.manufacturer_id:
            raise MeterError(
                f"{self.where}: manufacturer id 0x{found:04x}, expected "
                f"0x{self.chip.manufacturer_id:04x}: not an {self.chip.name}"
            )

    def bus_volts(self) -> float:
        """Bus voltage (V); raises on INA219 math overflow (current beyond calibration)."""
        raw = self._read(REG_BUS)
        if self.chip is INA219 and raw & 0x1:
            raise MeterError(f"{self.where}: math overflow, current beyond the calibrated range")
        return (raw >> self.chip.bus_shift) * self.chip.bus_lsb_v

    def shunt_volts(self) -> float:
        """Shunt voltage (V), signed."""
        raw = self._read(REG_SHUNT)
        return (raw - 0x10000 if raw & 0x8000 else raw) * self.chip.shunt_lsb_v

    def read_power(self) -> tuple[float, Mapping[str, float]]:
        raw = self._read(REG_POWER)
        if raw == 0 and self._read(REG_CALIBRATION) != self.cal:
            log.warning("%s lost its calibration (reset?); writing it again", self.where)
            self._write(REG_CALIBRATION, self.cal)
            return max(0.0, self.bus_volts() * self.shunt_volts() / self.shunt_ohm), {}
        return raw * self.power_lsb, {}

    def close(self) -> None:
        if self._owns_bus and self._bus is not None:
            self._bus.close()
        self._bus = None
