"""INA2xx power monitors through the kernel ``ina2xx`` hwmon driver.

``/sys/class/hwmon/hwmonN/name`` is the chip (ina219, ina226, ...); the driver
reports ``power1_input`` in µW (computed by the chip from its calibration, set
from the ``shunt_resistor`` file in µΩ), ``in1_input`` bus mV, ``curr1_input``
mA and ``update_interval`` ms (Documentation/hwmon/ina2xx.rst). Every ina2xx
device found is summed (one per measured supply); each is a rail.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from otswarm.energy.errors import MeterUnavailableError
from otswarm.energy.meters.base import Clock, PowerReadingMeter
from otswarm.energy.meters.sysfs import read_int, read_text

INA2XX_NAMES = frozenset({"ina219", "ina220", "ina226", "ina230", "ina231", "ina238", "ina260"})


def find_ina2xx(hwmon: Path) -> list[Path]:
    """hwmon directories whose ``name`` is an ina2xx chip, in name order."""
    if not hwmon.is_dir():
        raise MeterUnavailableError(f"{hwmon}: no hwmon class directory")
    found = sorted(
        d
        for d in hwmon.iterdir()
        if (d / "name").is_file() and read_text(d / "name") in INA2XX_NAMES
    )
    if not found:
        raise MeterUnavailableError(f"{hwmon}: no ina2xx hwmon device")
    return found


class HwmonIna2xxMeter(PowerReadingMeter):
    """Board power from every ina2xx hwmon device under ``<root>/sys/class/hwmon``."""

    def __init__(
        self,
        root: str | Path = "/",
        *,
        sample_period_s: float | None = None,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(clock)
        self.devices = find_ina2xx(Path(root) / "sys" / "class" / "hwmon")
        self.source = "hwmon:" + "+".join(read_text(d / "name") for d in self.devices)
        interval = self.devices[0] / "update_interval"
        default = read_int(interval) / 1000 if interval.is_file() else 0.1
        self.sample_period_s = sample_period_s or max(default, 0.01)
        self.read_power()  # fail now, not at the first sample

    def read_power(self) -> tuple[float, Mapping[str, float]]:
        rails = {
            f"{d.name}:{read_text(d / 'name')}": read_int(d / "power1_input") * 1e-6
            for d in self.devices
        }
        return sum(rails.values()), rails
