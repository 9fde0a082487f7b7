"""A simulated MCU: solar harvester, battery, INA219-like sensor and loads on a pty.

Start one with :func:`start_simulator_on_pty` (``(device_path, handle)``) or
``python -m otswarm.firmware_bridge.simulator --pty``. The protocol logic is the
reference firmware's own (:class:`otswarm.firmware_bridge.firmware.app.FirmwareApp`)
running on a simulated HAL.
"""

from .config import SimulatorConfig
from .pty_server import SimulatorHandle, start_simulator_on_pty

__all__ = ["SimulatorConfig", "SimulatorHandle", "start_simulator_on_pty"]
