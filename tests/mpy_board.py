"""Run by MicroPython's unix port in the bridge tests (not by pytest).

The reference firmware's protocol logic, unchanged, on a "board" whose UART is
stdin/stdout (the master end of a pty) and whose sensors read constants.
"""

import select
import sys
import time

from firmware_bridge.firmware.app import FirmwareApp
from firmware_bridge.firmware.hal import Hal


class StdioHal(Hal):
    energy_sharing = False

    def __init__(self):
        self.inp = sys.stdin.buffer
        self.out = sys.stdout.buffer
        self.poller = select.poll()
        self.poller.register(sys.stdin, select.POLLIN)

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, later, earlier):
        return time.ticks_diff(later, earlier)

    def uart_read(self):
        data = bytearray()
        while len(data) < 512 and self.poller.poll(0):
            data.extend(self.inp.read(1))
        return bytes(data)

    def uart_write(self, data):
        view = memoryview(data)
        while view:  # a stream write may be partial
            written = self.out.write(view)
            view = view[written or 0 :]

    def read_power(self):
        return 5.0, 0.5, 2.5

    def read_battery(self):
        return 0.5, 18000.0

    def read_harvest_w(self):
        return 1.25

    def read_temperature_c(self):
        return 30.0

    def set_load(self, mode, duty):
        pass


hal = StdioHal()
app = FirmwareApp(hal, board_id=99, telemetry_hz=0)
while True:
    app.poll()
    hal.poller.poll(2)
