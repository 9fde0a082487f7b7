"""The hardware abstraction the firmware's protocol logic talks to.

A HAL gives the firmware two clocks, a byte pipe and the board's sensors and
actuators. ``MachineHal`` (board), ``otswarm.firmware_bridge.simulator.hal.SimulatedHal``
(simulated board on a pty) implement it. MicroPython-compatible.
"""


class Hal:
    """Interface; every method is implemented by a concrete HAL."""

    #: True when the board has hardware to move energy into / out of its battery.
    energy_sharing = False

    def ticks_ms(self):
        """Monotonic wall-clock milliseconds (schedules telemetry); may wrap."""
        raise NotImplementedError

    def ticks_diff(self, later, earlier):
        """``later - earlier`` in ms, correct across wrap-around of :meth:`ticks_ms`."""
        return later - earlier

    def board_time_ms(self):
        """Board time stamped on telemetry, ms (the simulator runs it accelerated)."""
        return self.ticks_ms()

    def uart_read(self):
        """Bytes waiting on the serial port (``b""`` or ``None`` when none); never blocks."""
        raise NotImplementedError

    def uart_write(self, data):
        """Send ``data`` on the serial port."""
        raise NotImplementedError

    def read_power(self):
        """``(bus_voltage_v, current_a, power_w)`` drawn by the loads."""
        raise NotImplementedError

    def read_battery(self):
        """``(state_of_charge 0..1, stored_energy_j)``."""
        raise NotImplementedError

    def read_harvest_w(self):
        """Power delivered by the harvester, W."""
        raise NotImplementedError

    def read_temperature_c(self):
        """Board temperature, degrees C."""
        raise NotImplementedError

    def set_load(self, mode, duty):
        """Drive the loads: power mode (protocol.MODE_*) and duty level 0..1."""
        raise NotImplementedError

    def transfer_energy(self, joules):
        """Move ``joules`` into (+) or out of (-) the battery; return the joules moved."""
        raise NotImplementedError
