"""Power meters behind one interface (:class:`PowerMeter` -> :class:`PowerSample`).

Readers: Linux powercap/RAPL, INA219/INA226 over I2C and the kernel ina2xx hwmon
files, Jetson INA3221 rails, the Raspberry Pi 5 PMIC, telemetry pushed by the
firmware bridge, and a model-based estimate. :func:`discover_meter` picks the
one a profile names, or the best one the board has.
"""

from otswarm.energy.meters.base import (
    EnergyCounterMeter,
    PowerMeter,
    PowerReadingMeter,
    PowerSample,
)
from otswarm.energy.meters.discovery import AUTO_ORDER, discover_meter, open_meter
from otswarm.energy.meters.hwmon_ina2xx import HwmonIna2xxMeter
from otswarm.energy.meters.ina_i2c import InaI2CMeter
from otswarm.energy.meters.jetson_ina3221 import JetsonIna3221Meter
from otswarm.energy.meters.model import ModelMeter
from otswarm.energy.meters.pi5_pmic import Pi5PmicMeter
from otswarm.energy.meters.rapl import RaplMeter
from otswarm.energy.meters.telemetry import TelemetryMeter

__all__ = [
    "AUTO_ORDER",
    "EnergyCounterMeter",
    "HwmonIna2xxMeter",
    "InaI2CMeter",
    "JetsonIna3221Meter",
    "ModelMeter",
    "Pi5PmicMeter",
    "PowerMeter",
    "PowerReadingMeter",
    "PowerSample",
    "RaplMeter",
    "TelemetryMeter",
    "discover_meter",
    "open_meter",
]
