"""Power meters behind one interface (:class:`PowerMeter` -> :class:`PowerSample`).

Readers: Linux powercap/RAPL, INA219/INA226 over I2C and the kernel ina2xx hwmon
files, Jetson INA3221 rails, the Raspberry Pi 5 PMIC, telemetry pushed by the
firmware bridge, and a model-based estimate. :func:`discover_meter` picks the
one a profile names, or the best one the board has.
"""

from runtime.energy.meters.base import (
    EnergyCounterMeter,
    PowerMeter,
    PowerReadingMeter,
    PowerSample,
)
from runtime.energy.meters.discovery import discover_meter, open_meter
from runtime.energy.meters.model import ModelMeter

__all__ = [
    "EnergyCounterMeter",
    "ModelMeter",
    "PowerMeter",
    "PowerReadingMeter",
    "PowerSample",
    "discover_meter",
    "open_meter",
]
