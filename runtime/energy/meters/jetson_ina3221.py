"""Jetson on-module INA3221 power rails, in both sysfs layouts NVIDIA has shipped.

- JetPack 4 (L4T 32, Nano/TX2/Xavier): the ``ina3221x`` IIO driver,
  ``/sys/bus/i2c/drivers/ina3221x/*/iio:device*/rail_name_N`` with
  ``in_power N_input`` in mW.
- JetPack 5+ (L4T 35+, Orin): the upstream ``ina3221`` hwmon driver,
  ``/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*/inN_label`` with ``inN_input``
  (bus mV) and ``currN_input`` (mA) for N = 1..3; power = V * I. The summation
  channel (``in7_input``, ``curr4_input``) repeats channels 1-3 and is never read.

Board power: a rail that is the module input (``POM_5V_IN`` on Nano,
``VDD_IN`` on Orin Nano/NX) already contains the others, so it alone is the
total; without one, the rails are summed. Every rail is reported in ``rails``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from otswarm.energy.errors import MeterUnavailableError
from otswarm.energy.meters.base import Clock, PowerReadingMeter
from otswarm.energy.meters.sysfs import read_int, read_text

TOTAL_RAILS = ("POM_5V_IN", "VDD_IN")
_DRIVERS = Path("sys") / "bus" / "i2c" / "drivers"

RailReader = Callable[[], float]


def _jetpack4_rails(root: Path) -> dict[str, RailReader]:
    rails: dict[str, RailReader] = {}
    for device in sorted(root.glob(f"{_DRIVERS}/ina3221x/*/iio:device*")):
        for name_file in sorted(device.glob("rail_name_*")):
            n = name_file.name.removeprefix("rail_name_")
            power = device / f"in_power{n}_input"
            rails[read_text(name_file)] = lambda p=power: read_int(p) * 1e-3
    return rails


def _jetpack5_rails(root: Path) -> dict[str, RailReader]:
    rails: dict[str, RailReader] = {}
    for hwmon in sorted(root.glob(f"{_DRIVERS}/ina3221/*/hwmon/hwmon*")):
        for n in (1, 2, 3):  # channel 4 / in7 is the summation channel
            label = hwmon / f"in{n}_label"
            if not label.is_file():
                continue  # channel not connected (no label in the device tree)
            volts, amps = hwmon / f"in{n}_input", hwmon / f"curr{n}_input"
            rails[read_text(label)] = lambda v=volts, a=amps: read_int(v) * read_int(a) * 1e-6
    return rails


class JetsonIna3221Meter(PowerReadingMeter):
    """Board power from the Jetson's INA3221 rails under ``root``."""

    def __init__(
        self, root: str | Path = "/", *, sample_period_s: float = 0.1, clock: Clock = time.time
    ) -> None:
        super().__init__(clock)
        root = Path(root)
        self._rails = _jetpack4_rails(root) or _jetpack5_rails(root)
        if not self._rails:
            raise MeterUnavailableError(
                f"{root / _DRIVERS}: no ina3221x (JetPack 4) or ina3221 (JetPack 5+) rails"
            )
        self.total_rail = next((r for r in TOTAL_RAILS if r in self._rails), None)
        layout = "iio" if (root / _DRIVERS / "ina3221x").is_dir() else "hwmon"
        self.source = f"ina3221-{layout}:{self.total_rail or 'sum of rails'}"
        self.sample_period_s = sample_period_s
        self.read_power()  # fail now, not at the first sample

    def read_power(self) -> tuple[float, Mapping[str, float]]:
        rails = {name: read() for name, read in self._rails.items()}
        total = rails[self.total_rail] if self.total_rail else sum(rails.values())
        return total, rails
