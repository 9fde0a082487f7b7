"""The HAL of a real RP2040 / ESP32 board, on MicroPython's ``machine`` module.

Wiring it assumes (every pin is a constructor argument):

- UART ``uart_id`` at ``baudrate`` to the host;
- I2C ``i2c_id``: an INA219 on the load side (``load_address``) and one on the
  harvester side (``harvest_address``);
- ADC ``battery_pin`` through a divider of ratio ``divider`` to the battery:
  ``V_bat = raw / 65535 · 3.3 V · divider``; state of charge is linear between
  ``v_empty`` and ``v_full``, stored energy ``soc · capacity_j``;
- PWM ``load_pin`` drives the loads: duty ``d`` in MODE_RUN, ``d / 2`` in
  MODE_ECO, 0 in MODE_SLEEP;
- temperature from the RP2040 sensor (ADC 4: ``27 − (V − 0.706) / 0.001721``)
  or the ESP32's ``esp32.mcu_temperature()``.

No energy-sharing hardware: ``energy_sharing`` is False, so the firmware NACKs
ENERGY_TRANSFER with ``unsupported``. ``machine`` is imported in the
constructor, so this module also imports under CPython (tests, docs).
"""

from ..protocol import MODE_ECO, MODE_SLEEP
from .hal import Hal
from .ina219 import Ina219

ADC_REF_V = 3.3
RP2040_TEMP_ADC = 4


class MachineHal(Hal):
    """Sensors and loads of a board wired as the module docstring says."""

    energy_sharing = False

    def __init__(
        self,
        uart_id=0,
        baudrate=115200,
        i2c_id=0,
        load_address=0x40,
        harvest_address=0x41,
        battery_pin=26,
        divider=2.0,
        v_empty=3.3,
        v_full=4.2,
        capacity_j=36000.0,
        load_pin=15,
        pwm_hz=1000,
    ):
        import time

        import machine  # only on the board

        self._time = time
        self.uart = machine.UART(uart_id, baudrate=baudrate, timeout=0)
        i2c = machine.I2C(i2c_id)
        self.load_meter = Ina219(i2c, load_address)
        self.harvest_meter = Ina219(i2c, harvest_address)
        self.battery_adc = machine.ADC(machine.Pin(battery_pin))
        self.divider = divider
        self.v_empty = v_empty
        self.v_full = v_full
        self.capacity_j = capacity_j
        self.load_pwm = machine.PWM(machine.Pin(load_pin))
        self.load_pwm.freq(pwm_hz)
        try:
            import esp32

            self._esp32 = esp32
            self._temp_adc = None
        except ImportError:  # RP2040: on-chip sensor on ADC channel 4
            self._esp32 = None
            self._temp_adc = machine.ADC(RP2040_TEMP_ADC)
        self._last_ticks = time.ticks_ms()
        self._board_ms = 0

    def ticks_ms(self):
        return self._time.ticks_ms()

    def ticks_diff(self, later, earlier):
        return self._time.ticks_diff(later, earlier)

    def board_time_ms(self):
        """Milliseconds since boot that never wrap (``ticks_ms`` wraps at 2**30)."""
        now = self._time.ticks_ms()
        self._board_ms += self._time.ticks_diff(now, self._last_ticks)
        self._last_ticks = now
        return self._board_ms

    def uart_read(self):
        return self.uart.read()

    def uart_write(self, data):
        self.uart.write(data)

    def read_power(self):
        meter = self.load_meter
        return meter.bus_voltage_v(), meter.current_a(), meter.power_w()

    def read_battery(self):
        volts = self.battery_adc.read_u16() / 65535 * ADC_REF_V * self.divider
        soc = (volts - self.v_empty) / (self.v_full - self.v_empty)
        soc = min(max(soc, 0.0), 1.0)
        return soc, soc * self.capacity_j

    def read_harvest_w(self):
        return self.harvest_meter.power_w()

    def read_temperature_c(self):
        if self._esp32 is not None:
            return self._esp32.mcu_temperature()
        volts = self._temp_adc.read_u16() / 65535 * ADC_REF_V
        return 27 - (volts - 0.706) / 0.001721

    def set_load(self, mode, duty):
        if mode == MODE_SLEEP:
            duty = 0.0
        elif mode == MODE_ECO:
            duty = duty / 2
        self.load_pwm.duty_u16(int(duty * 65535))
