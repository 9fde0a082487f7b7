"""The demo's simulated boards: one MCU simulator per agent, each on its own pty.

The simulators run in the demo's own process (one thread each; they sleep in
``select`` between frames), and every agent opens its board's pty with
pyserial exactly as it would open ``/dev/ttyACM0``. Boards differ the way a
real deployment does: panel size, cloudiness, starting charge. Every board's
clock runs ``acceleration`` times faster than the wall clock, so a 45 s demo
sees three hours around noon, and the harvest drop is scripted in board time.
"""

from __future__ import annotations

import contextlib

import numpy as np

BOOT_HOUR = 10.5  # the boards boot at 10:30 board time: a 45 s run spans noon, where the
# sun changes least, so the drift the monitors see is the scripted drop, not the morning
BATTERY_J = 36000.0  # every demo board's battery (10 Wh); the agents' configs say so too


def board_configs(n: int, acceleration: float, drop_at_wall_s: float, drop_factor: float, seed=0):
    """``n`` different boards; the harvest drops ``drop_at_wall_s`` wall seconds after start.

    Panels of 6-16 W peak, cloudiness 0.05-0.25 and starting charge 30-85 % are
    spread over the swarm (seeded), so the policies start out disagreeing and
    some boards have energy to give while others need it.
    """
    from otswarm.firmware_bridge.simulator.config import SimulatorConfig

    rng = np.random.default_rng(seed)
    configs = []
    for index in range(n):
        configs.append(
            SimulatorConfig(
                seed=seed * 1000 + index,
                board_id=index,
                time_acceleration=acceleration,
                start_time_of_day_s=BOOT_HOUR * 3600.0,
                solar_peak_w=float(rng.uniform(6.0, 16.0)),
                cloudiness=float(rng.uniform(0.05, 0.25)),
                initial_soc=float(rng.uniform(0.30, 0.85)),
                battery_capacity_j=BATTERY_J,
                harvest_drop_at_s=drop_at_wall_s * acceleration,
                harvest_drop_factor=drop_factor,
                energy_sharing=True,
            )
        )
    return configs


def start_simulated_boards(configs, links, stack: contextlib.ExitStack) -> list[str]:
    """Start one in-process simulator per config, each published at its path in ``links``
    (the device its agent opens); ``stack`` stops them all at the end. Returns the ptys."""
    from otswarm.firmware_bridge.simulator.pty_server import start_simulator_on_pty

    devices = []
    for config, link in zip(configs, links, strict=True):
        device, handle = start_simulator_on_pty(config, link_path=link, in_process=True)
        stack.callback(handle.stop)
        devices.append(device)
    return devices
