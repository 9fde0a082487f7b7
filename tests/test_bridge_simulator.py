"""The simulated MCU: board physics, and the simulator on a real pty behind BridgeLink."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bridge_support import wait_until

from otswarm.firmware_bridge import protocol
from otswarm.firmware_bridge.errors import CommandRejectedError
from otswarm.firmware_bridge.link import BridgeLink
from otswarm.firmware_bridge.simulator import SimulatorConfig, start_simulator_on_pty
from otswarm.firmware_bridge.simulator.battery import Battery
from otswarm.firmware_bridge.simulator.board import SimulatedBoard
from otswarm.firmware_bridge.simulator.sensor import Ina219Model
from otswarm.firmware_bridge.simulator.solar import SolarHarvester

REPO_ROOT = Path(__file__).resolve().parents[1]
NOON = 4 * 3600.0  # board time of noon with the default 08:00 boot


def test_solar_profile_is_dark_at_night_seeded_and_drops_on_script():
    config = SimulatorConfig(seed=3, cloudiness=0.4)
    solar = SolarHarvester(config)
    assert solar.power_w(15 * 3600.0) == 0.0  # 23:00
    assert solar.clear_sky_w(NOON) == pytest.approx(config.solar_peak_w)
    noon = solar.power_w(NOON)
    assert (1 - config.cloudiness) * config.solar_peak_w <= noon <= config.solar_peak_w
    assert SolarHarvester(config).power_w(NOON + 123.0) == solar.power_w(NOON + 123.0)
    assert SolarHarvester(SimulatorConfig(seed=4, cloudiness=0.4)).power_w(NOON) != noon
    dropped = SolarHarvester(SimulatorConfig(seed=3, cloudiness=0.4, harvest_drop_at_s=NOON))
    assert dropped.power_w(NOON - 1.0) == solar.power_w(NOON - 1.0)
    assert dropped.power_w(NOON) == pytest.approx(noon * config.harvest_drop_factor)


def test_battery_books_efficiency_and_clips():
    battery = Battery(SimulatorConfig(battery_capacity_j=1000.0, initial_soc=0.5))
    battery.step(10.0, 10.0)  # 100 J harvested surplus -> 95 J stored
    assert battery.energy_j == pytest.approx(595.0)
    battery.step(-9.5, 10.0)  # 95 J delivered -> 100 J taken
    assert battery.energy_j == pytest.approx(495.0)
    assert battery.transfer(1000.0) == pytest.approx(505.0)  # clipped at capacity
    assert battery.soc == 1.0
    assert battery.transfer(-2000.0) == pytest.approx(-1000.0)


def test_ina219_model_noise_and_quantisation():
    sensor = Ina219Model(SimulatorConfig(seed=1))
    readings = [sensor.read(5.0, 0.5) for _ in range(2000)]
    mean_i = sum(r[1] for r in readings) / len(readings)
    assert mean_i == pytest.approx(0.5, abs=0.0005)  # 2 mA noise / sqrt(2000) ~ 0.05 mA
    assert all(math.isclose(r[0] / 0.004, round(r[0] / 0.004)) for r in readings)
    assert len({r[1] for r in readings}) > 10  # noisy


def test_board_load_follows_mode_and_duty_and_brownout():
    board = SimulatedBoard(SimulatorConfig(battery_capacity_j=100.0, initial_soc=0.0))
    board.set_load(protocol.MODE_RUN, 1.0)
    assert board.demand_w() == pytest.approx(2.4 + 4.0)
    board.set_load(protocol.MODE_ECO, 0.5)
    assert board.demand_w() == pytest.approx(2.4 + 0.5 * 0.5 * 4.0)
    board.set_load(protocol.MODE_SLEEP, 1.0)
    assert board.demand_w() == pytest.approx(0.3)
    board.set_load(protocol.MODE_RUN, 1.0)
    board.advance(15 * 3600.0)  # night, empty battery: loads get nothing
    assert board.harvest_w == 0.0 and board.load_w == 0.0
    assert board.battery.energy_j == 0.0


def test_simulator_on_pty_serves_handshake_telemetry_power_and_energy():
    config = SimulatorConfig(seed=5, time_acceleration=60.0, cloudiness=0.0)
    path, handle = start_simulator_on_pty(config, in_process=True)
    with handle, BridgeLink(path, telemetry_hz=50.0) as link:
        assert link.board.energy_sharing and link.board.firmware == "otswarm-sim 1.0"
        first = link.wait_telemetry(5.0)
        assert first.soc == pytest.approx(first.battery_energy_j / config.battery_capacity_j)
        link.set_power(0.0, protocol.MODE_SLEEP)
        link.wait_telemetry(5.0)
        asleep = link.wait_telemetry(5.0)
        assert asleep.mode == protocol.MODE_SLEEP
        # INA219 power of a 0.3 W load, within sensor noise (2 mA * 5 V) and LSB rounding
        assert asleep.power_w == pytest.approx(config.sleep_w, abs=0.05)
        assert link.transfer_energy(5000.0) == pytest.approx(5000.0)
        after = link.wait_telemetry(5.0)
        # one telemetry period is ~1 board s: harvest and load move << 100 J
        assert after.battery_energy_j - asleep.battery_energy_j == pytest.approx(5000.0, abs=100)
        assert after.mcu_time_ms > first.mcu_time_ms


def test_simulator_without_sharing_hardware_rejects_transfers():
    path, handle = start_simulator_on_pty(in_process=True, energy_sharing=False)
    with handle, BridgeLink(path, telemetry_hz=0) as link:
        with pytest.raises(CommandRejectedError) as rejected:
            link.transfer_energy(1.0)
        assert rejected.value.code == protocol.ERR_UNSUPPORTED


def test_link_recovers_when_the_simulator_is_killed_and_restarted(tmp_path):
    device = tmp_path / "ttyOTSWARM0"
    config = SimulatorConfig(seed=2, board_id=11)
    _, first = start_simulator_on_pty(config, link_path=device)
    link = BridgeLink(str(device), telemetry_hz=20.0, reconnect_interval_s=0.05)
    try:
        link.open()
        link.set_power(0.25, protocol.MODE_ECO)
        link.wait_telemetry(5.0)
        first.kill()  # the 'USB unplug': SIGKILL, no clean-up
        assert wait_until(lambda: not link.connected, 10.0)
        _, second = start_simulator_on_pty(config, link_path=device)
        try:
            assert link.wait_connected(20.0)
            sample = link.wait_telemetry(5.0)
            # the link replayed the power setting to the fresh MCU
            assert (sample.mode, sample.duty) == (protocol.MODE_ECO, 0.25)
            stats = link.stats()
            assert stats.reconnects >= 1
            assert link.board.board_id == 11
        finally:
            second.stop()
    finally:
        link.close()


def _process_gone(pid: int) -> bool:
    """True once ``pid`` has exited (gone, or a zombie nobody reaped yet)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def test_child_simulator_exits_when_its_parent_dies():
    code = (
        "import os\n"
        "from otswarm.firmware_bridge.simulator import start_simulator_on_pty\n"
        "path, handle = start_simulator_on_pty()\n"
        "print(handle.pid, flush=True)\n"
        "os._exit(0)  # crash without stopping the simulator\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    pid = int(out.stdout.strip())
    assert wait_until(lambda: _process_gone(pid), 10.0)
