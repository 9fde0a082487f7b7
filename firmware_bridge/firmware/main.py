"""Entry point on the board: upload as ``/main.py`` (docs/serial-protocol.md, "Firmware").

Builds the board's HAL and polls the protocol logic forever.
"""

from firmware_bridge.crc import crc32
from firmware_bridge.firmware.app import FirmwareApp
from firmware_bridge.firmware.hal_machine import MachineHal

POLL_MS = 1


def run():
    """Serve the host on the UART until power-off."""
    import time

    import machine

    hal = MachineHal()
    app = FirmwareApp(hal, board_id=crc32(machine.unique_id()), telemetry_hz=1.0)
    while True:
        app.poll()
        time.sleep_ms(POLL_MS)


if __name__ == "__main__":
    run()
