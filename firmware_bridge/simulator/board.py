"""The simulated board: harvester, battery, loads, sensor, on one board clock."""

import math

from ..protocol import MODE_ECO, MODE_RUN, MODE_SLEEP
from .battery import Battery
from .config import SimulatorConfig
from .sensor import Ina219Model
from .solar import SolarHarvester

MAX_STEP_S = 10.0  # longest integration step, board s (the sky changes over minutes)


class SimulatedBoard:
    """Physics of one board, advanced in board time.

    Load draw (W): ``sleep_w`` in MODE_SLEEP; ``idle_w + k · duty · active_w``
    with ``k = 1`` in MODE_RUN and ``k = ½`` in MODE_ECO. When the battery is
    empty the loads get only what the harvester gives (brown-out). Bus voltage
    ``V = bus_voltage_v − bus_resistance_ohm · I``; temperature is ambient
    (a day/night sinusoid) plus ``heating_c_per_w`` per watt drawn.
    """

    def __init__(self, config: SimulatorConfig):
        self.config = config
        self.solar = SolarHarvester(config)
        self.battery = Battery(config)
        self.sensor = Ina219Model(config)
        self.t_s = 0.0
        self.mode = MODE_RUN
        self.duty = 1.0
        self.harvest_w = self.solar.power_w(0.0)
        self.load_w = self.demand_w()

    def demand_w(self) -> float:
        """What the loads ask for at the current mode and duty, W."""
        c = self.config
        if self.mode == MODE_SLEEP:
            return c.sleep_w
        share = 0.5 if self.mode == MODE_ECO else 1.0
        return c.idle_w + share * self.duty * c.active_w

    def set_load(self, mode: int, duty: float) -> None:
        """Power mode (protocol.MODE_*) and duty level 0..1 of the loads."""
        self.mode = mode if mode in (MODE_SLEEP, MODE_ECO, MODE_RUN) else MODE_RUN
        self.duty = min(max(duty, 0.0), 1.0)

    def advance(self, t_s: float) -> None:
        """Integrate the board from its current time to board time ``t_s``."""
        while self.t_s < t_s:
            dt = min(MAX_STEP_S, t_s - self.t_s)
            self.harvest_w = self.solar.power_w(self.t_s + dt)
            demand = self.demand_w()
            self.load_w = demand if self.battery.energy_j > 0 else min(demand, self.harvest_w)
            self.battery.step(self.harvest_w - self.load_w, dt)
            self.t_s += dt

    def bus_current_a(self) -> float:
        """True current drawn by the loads from the regulated bus, A.

        Solves ``P = (V0 − R·I)·I`` for the smaller root ``I``.
        """
        c = self.config
        if c.bus_resistance_ohm <= 0:
            return self.load_w / c.bus_voltage_v
        disc = c.bus_voltage_v**2 - 4 * c.bus_resistance_ohm * self.load_w
        return (c.bus_voltage_v - math.sqrt(max(disc, 0.0))) / (2 * c.bus_resistance_ohm)

    def read_power(self):
        """``(bus_voltage_v, current_a, power_w)`` as the INA219 reads them."""
        current = self.bus_current_a()
        voltage = self.config.bus_voltage_v - self.config.bus_resistance_ohm * current
        return self.sensor.read(voltage, current)

    def temperature_c(self) -> float:
        """Board temperature, C: ambient day/night sinusoid (peak at 15:00) plus self-heating."""
        c = self.config
        tod = (c.start_time_of_day_s + self.t_s) % c.day_length_s
        phase = 2 * math.pi * (tod - 15 * 3600.0) / c.day_length_s
        return c.ambient_c + c.ambient_swing_c * math.cos(phase) + c.heating_c_per_w * self.load_w
