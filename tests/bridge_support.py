"""Test harness of the serial-bridge tests: a fixed-reading board HAL on a real pty.

``FixedHal`` is what a real board looks like to the reference firmware: sensors
that read constant values, a manual clock the test advances, no energy-sharing
hardware unless asked. ``McuThread`` runs the *real* firmware logic
(FirmwareApp) on it, on the master end of an ``os.openpty`` pair.
"""

from __future__ import annotations

import os
import threading
import time
import tty

from otswarm.firmware_bridge.firmware.app import FirmwareApp
from otswarm.firmware_bridge.firmware.hal import Hal

READINGS = (5.0, 0.5, 2.5)  # bus V, A, W the fixed board reports


class FixedHal(Hal):
    """Constant sensors, manual clock, optional loss of whole reads/writes."""

    def __init__(self, fd: int, energy_sharing: bool = False):
        self.fd = fd
        self.energy_sharing = energy_sharing
        self.now_ms = 0
        self.load = None
        self.battery_j = 1000.0
        self.drop_next_reads = 0  # discard this many inbound chunks (lost command)
        self.drop_next_writes = 0  # discard this many outbound frames (lost answer)

    def ticks_ms(self):
        return self.now_ms

    def uart_read(self):
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return b""
        if data and self.drop_next_reads:
            self.drop_next_reads -= 1
            return b""
        return data

    def uart_write(self, data):
        if self.drop_next_writes:
            self.drop_next_writes -= 1
            return
        os.write(self.fd, data)

    def read_power(self):
        return READINGS

    def read_battery(self):
        return self.battery_j / 2000.0, self.battery_j

    def read_harvest_w(self):
        return 1.25

    def read_temperature_c(self):
        return 30.0

    def set_load(self, mode, duty):
        self.load = (mode, duty)

    def transfer_energy(self, joules):
        self.battery_j += joules
        return joules


def wait_until(predicate, timeout_s: float) -> bool:
    """Poll ``predicate`` every 20 ms until it holds (True) or ``timeout_s`` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def raw_pty():
    """``(master_fd, slave_path, slave_fd)`` of a new raw pty pair (caller closes both fds)."""
    master, slave = os.openpty()
    for fd in (master, slave):
        tty.setraw(fd)
    return master, os.ttyname(slave), slave


class McuThread:
    """The reference firmware's FirmwareApp polled in a thread; the clock moves 1 ms a poll."""

    def __init__(self, energy_sharing=False, telemetry_hz=0.0):
        self.master, self.path, self._slave = raw_pty()
        os.set_blocking(self.master, False)
        self.hal = FixedHal(self.master, energy_sharing)
        self.app = FirmwareApp(self.hal, board_id=7, telemetry_hz=telemetry_hz)
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            with self.lock:
                self.hal.now_ms += 1
                self.app.poll()
            time.sleep(0.0005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self._slave)
