"""The HAL of the simulated MCU: the firmware's view of a SimulatedBoard on a pty."""

import os
import select
import time

from ..firmware.hal import Hal
from .board import SimulatedBoard

WRITE_WAIT_S = 0.05  # longest wait for a full pty to drain before a frame is dropped


class SimulatedHal(Hal):
    """Firmware HAL over a pty master fd and a :class:`SimulatedBoard`.

    The wall clock (``ticks_ms``) schedules telemetry; the board clock runs
    ``time_acceleration`` times faster and stamps it. Call :meth:`advance`
    before each firmware poll to bring the board up to now.
    """

    def __init__(self, board: SimulatedBoard, fd: int):
        self.board = board
        self.fd = fd
        self.energy_sharing = board.config.energy_sharing
        self.dropped_bytes = 0  # bytes not written because nobody read the pty
        self._t0 = time.monotonic()

    def ticks_ms(self):
        return int((time.monotonic() - self._t0) * 1000)

    def board_time_ms(self):
        return int(self.board.t_s * 1000)

    def advance(self):
        """Advance the board to the board time corresponding to the wall clock now."""
        self.board.advance((time.monotonic() - self._t0) * self.board.config.time_acceleration)

    def uart_read(self):
        try:
            return os.read(self.fd, 4096)
        except BlockingIOError:
            return b""

    def uart_write(self, data):
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                if not select.select([], [self.fd], [], WRITE_WAIT_S)[1]:
                    self.dropped_bytes += len(view)
                    return

    def read_power(self):
        return self.board.read_power()

    def read_battery(self):
        battery = self.board.battery
        return battery.soc, battery.energy_j

    def read_harvest_w(self):
        return self.board.harvest_w

    def read_temperature_c(self):
        return self.board.temperature_c()

    def set_load(self, mode, duty):
        self.board.set_load(mode, duty)

    def transfer_energy(self, joules):
        return self.board.battery.transfer(joules)
