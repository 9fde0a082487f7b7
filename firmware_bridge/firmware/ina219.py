"""INA219 current/power monitor over I2C (MicroPython ``machine.I2C``).

Register map (TI datasheet SBOS448): 0x00 configuration, 0x01 shunt voltage
(10 µV/bit, signed), 0x02 bus voltage (bits 15..3, 4 mV/bit), 0x03 power,
0x04 current (signed), 0x05 calibration. With a current LSB ``I_lsb`` (A/bit)
and a shunt ``R`` (Ω) the calibration register is ``trunc(0.04096 / (I_lsb · R))``
and the power LSB is ``20 · I_lsb`` (W/bit). MicroPython-compatible.
"""

REG_CONFIG = 0x00
REG_BUS_VOLTAGE = 0x02
REG_POWER = 0x03
REG_CURRENT = 0x04
REG_CALIBRATION = 0x05
# 32 V bus range, PGA /8 (±320 mV shunt), 12-bit bus and shunt ADCs, continuous
CONFIG_32V_320MV_CONTINUOUS = 0x399F
BUS_VOLTAGE_LSB_V = 0.004


def calibration_value(current_lsb_a, shunt_ohm):
    """Calibration register for a current LSB (A/bit) and shunt resistance (Ω)."""
    return int(0.04096 / (current_lsb_a * shunt_ohm))


def bus_voltage_from_register(raw):
    """Bus voltage in V from register 0x02 (the low three bits are flags)."""
    return (raw >> 3) * BUS_VOLTAGE_LSB_V


def signed16(raw):
    """Two's-complement value of a 16-bit register."""
    return raw - 0x10000 if raw & 0x8000 else raw


class Ina219:
    """One INA219 at ``address`` on ``i2c``, calibrated for ``max_current_a``."""

    def __init__(self, i2c, address=0x40, shunt_ohm=0.1, max_current_a=3.2):
        self.i2c = i2c
        self.address = address
        self.current_lsb_a = max_current_a / 32768
        self._write(REG_CONFIG, CONFIG_32V_320MV_CONTINUOUS)
        self._write(REG_CALIBRATION, calibration_value(self.current_lsb_a, shunt_ohm))

    def _write(self, register, value):
        self.i2c.writeto_mem(self.address, register, bytes(((value >> 8) & 0xFF, value & 0xFF)))

    def _read(self, register):
        data = self.i2c.readfrom_mem(self.address, register, 2)
        return (data[0] << 8) | data[1]

    def bus_voltage_v(self):
        """Bus voltage, V."""
        return bus_voltage_from_register(self._read(REG_BUS_VOLTAGE))

    def current_a(self):
        """Current through the shunt, A (negative when it flows backwards)."""
        return signed16(self._read(REG_CURRENT)) * self.current_lsb_a

    def power_w(self):
        """Power computed by the chip, W."""
        return self._read(REG_POWER) * 20 * self.current_lsb_a
