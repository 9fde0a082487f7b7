"""An INA219-like current/voltage sensor: noise and register quantisation."""

import random

from .config import SimulatorConfig

BUS_VOLTAGE_LSB_V = 0.004  # INA219 bus voltage register: 4 mV per bit
CURRENT_LSB_A = 0.0001  # calibrated current register: 0.1 mA per bit
POWER_LSB_W = 20 * CURRENT_LSB_A  # INA219: power LSB (W) = 20 × current LSB (A) × 1 V


class Ina219Model:
    """Reads a true (voltage, current) as the INA219 would report it.

    Each reading adds Gaussian noise (``voltage_noise_v``, ``current_noise_a``)
    and rounds to the register LSB; power is ``V · I`` rounded to the power LSB,
    as the chip computes it from its own two registers.
    """

    def __init__(self, config: SimulatorConfig):
        self.config = config
        self._rng = random.Random(config.seed + 0x1A219)

    def read(self, voltage_v: float, current_a: float):
        """``(bus_voltage_v, current_a, power_w)`` as read from the registers."""
        c = self.config
        v = round((voltage_v + self._rng.gauss(0.0, c.voltage_noise_v)) / BUS_VOLTAGE_LSB_V)
        i = round((current_a + self._rng.gauss(0.0, c.current_noise_a)) / CURRENT_LSB_A)
        v_read = max(v, 0) * BUS_VOLTAGE_LSB_V
        i_read = i * CURRENT_LSB_A
        return v_read, i_read, round(v_read * i_read / POWER_LSB_W) * POWER_LSB_W
