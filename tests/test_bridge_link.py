"""BridgeLink over a real pty pair (os.openpty + pyserial) against the reference firmware."""

from __future__ import annotations

import itertools
import os
import random
import threading

import pytest
from bridge_support import READINGS, McuThread, raw_pty, wait_until

from otswarm.firmware_bridge import protocol
from otswarm.firmware_bridge.errors import CommandRejectedError, CommandTimeoutError, LinkError
from otswarm.firmware_bridge.frames import MAX_ENCODED_LEN, encode_frame
from otswarm.firmware_bridge.link import BridgeLink


def test_handshake_reports_the_board():
    with McuThread() as mcu, BridgeLink(mcu.path, telemetry_hz=0) as link:
        assert link.connected
        assert link.board.protocol_version == 1
        assert link.board.board_id == 7
        assert link.board.firmware.startswith("otswarm-ref")
        assert not link.board.energy_sharing
        assert link.stats().frames_ok == 2  # HELLO_REPLY and the telemetry-rate ACK


def test_telemetry_streams_at_the_configured_rate():
    samples = []
    with (
        McuThread() as mcu,
        BridgeLink(mcu.path, telemetry_hz=0, on_telemetry=samples.append) as link,
    ):
        link.set_telemetry_rate(20.0)
        assert wait_until(lambda: len(samples) >= 6, 20.0)
        # the firmware's clock moves 1 ms per poll: 20 Hz is exactly one frame per 50 ticks
        gaps = {b.mcu_time_ms - a.mcu_time_ms for a, b in itertools.pairwise(samples)}
        assert gaps == {50}
        sample = samples[-1]
        assert (sample.bus_voltage_v, sample.current_a, sample.power_w) == READINGS
        assert sample.harvest_w == 1.25 and sample.mode == protocol.MODE_RUN
        assert link.latest_telemetry() is not None


def test_commands_are_acknowledged_and_rejected_with_codes():
    with McuThread() as mcu, BridgeLink(mcu.path, telemetry_hz=0) as link:
        link.set_power(0.5, protocol.MODE_ECO)
        assert mcu.hal.load == (protocol.MODE_ECO, 0.5)
        with pytest.raises(CommandRejectedError) as rejected:
            link.set_power(1.5)
        assert rejected.value.code == protocol.ERR_OUT_OF_RANGE
        with pytest.raises(CommandRejectedError) as rejected:
            link.transfer_energy(10.0)  # the reference board has no sharing hardware
        assert rejected.value.code == protocol.ERR_UNSUPPORTED
        assert link.stats().nacks == 2


def test_lost_command_and_lost_answer_are_retried_without_double_execution():
    with (
        McuThread(energy_sharing=True) as mcu,
        BridgeLink(mcu.path, telemetry_hz=0, command_timeout_s=0.1) as link,
    ):
        with mcu.lock:
            mcu.hal.drop_next_reads = 1  # the MCU never sees the first attempt
        assert link.transfer_energy(25.0) == 25.0
        with mcu.lock:
            mcu.hal.drop_next_writes = 1  # the MCU executes, its ACK is lost
        assert link.transfer_energy(-5.0) == -5.0
        assert mcu.hal.battery_j == 1000.0 + 25.0 - 5.0  # each transfer applied once
        stats = link.stats()
        assert stats.retries == 2 and stats.timeouts == 0


def test_open_fails_typed_when_nobody_answers():
    master, path, slave = raw_pty()
    try:
        link = BridgeLink(path, command_timeout_s=0.05, retries=1)
        with pytest.raises(LinkError):
            link.open(timeout_s=0.3)
        assert link.stats().timeouts >= 1
        with pytest.raises(LinkError):
            BridgeLink(path + "-missing").open()
    finally:
        os.close(master)
        os.close(slave)


def test_command_times_out_after_every_retry():
    with (
        McuThread() as mcu,
        BridgeLink(mcu.path, telemetry_hz=0, command_timeout_s=0.05, retries=2) as link,
    ):
        with mcu.lock:
            mcu.hal.drop_next_reads = 10**6  # the MCU goes deaf
        with pytest.raises(CommandTimeoutError):
            link.set_power(0.5)
        stats = link.stats()
        assert stats.retries == 2 and stats.timeouts == 1


def _corrupt(stream: bytes, rate: float, rng: random.Random):
    """Replace (half) or drop (half) each byte with probability ``rate``.

    Returns the damaged stream and the indices of the original bytes touched."""
    out = bytearray()
    damaged = set()
    for i, byte in enumerate(stream):
        if rng.random() < rate:
            damaged.add(i)
            if rng.random() < 0.5:
                out.append((byte + rng.randrange(1, 256)) & 0xFF)
            continue
        out.append(byte)
    return bytes(out), damaged


def test_one_percent_corruption_every_bad_frame_rejected_every_good_frame_delivered():
    received = []
    with McuThread() as mcu:
        link = BridgeLink(mcu.path, telemetry_hz=0, on_telemetry=received.append)
        link.open()
        records = [
            protocol.Telemetry(i, 5.0, 0.25, 1.25, 0.5, 100.0 + i, 2.0, 25.0, 1.0, 2)
            for i in range(2000)
        ]
        frames = [
            encode_frame(protocol.MSG_TELEMETRY, i, protocol.encode_payload(r))
            for i, r in enumerate(records)
        ]
        stream = b"".join(frames)
        bad_stream, damaged = _corrupt(stream, 0.01, random.Random(7))
        before = link.stats()
        view = memoryview(bad_stream)
        with mcu.lock:  # the firmware is quiet; the test is the MCU now
            os.set_blocking(mcu.master, True)
            while view:
                view = view[os.write(mcu.master, view) :]
            os.set_blocking(mcu.master, False)
        expected_in = before.bytes_in + len(bad_stream)
        wait_until(lambda: link.stats().bytes_in >= expected_in, 20.0)
        after = link.stats()
        link.close()

    # a frame is good when none of its bytes, delimiters included, was touched
    good, start = set(), 0
    for i, frame in enumerate(frames):
        if not damaged.intersection(range(start, start + len(frame))):
            good.add(i)
        start += len(frame)
    delivered = {r.mcu_time_ms for r in received}
    assert all(r == records[r.mcu_time_ms] for r in received)  # nothing corrupted got through
    assert good <= delivered  # every good frame arrived
    assert len(received) == len(delivered)  # none twice
    pieces = [p for p in bad_stream.split(b"\x00") if p]
    assert after.bytes_in - before.bytes_in == len(bad_stream)
    assert after.frames_ok - before.frames_ok == len(received)
    assert after.resyncs - before.resyncs == len(pieces) - len(received)
    assert after.resyncs - before.resyncs == (
        after.crc_errors + after.decode_errors + after.too_long
    ) - (before.crc_errors + before.decode_errors + before.too_long)
    assert len(frames) - len(good) > 0  # 1 % of ~100 k bytes damaged many frames


def test_over_long_frame_is_rejected_and_the_next_frame_delivered():
    with McuThread() as mcu, BridgeLink(mcu.path, telemetry_hz=0) as link:
        record = protocol.Telemetry(1, 5.0, 0.25, 1.25, 0.5, 100.0, 2.0, 25.0, 1.0, 2)
        good = encode_frame(protocol.MSG_TELEMETRY, 1, protocol.encode_payload(record))
        with mcu.lock:
            os.set_blocking(mcu.master, True)
            os.write(mcu.master, b"\x00" + b"\x42" * (20 * MAX_ENCODED_LEN) + good)
            os.set_blocking(mcu.master, False)
        assert wait_until(lambda: link.latest_telemetry() is not None, 10.0)
        assert link.latest_telemetry() == record
        stats = link.stats()
        assert stats.too_long == 1 and stats.resyncs == 1


def test_opens_pyserial_urls_too():
    # loop:// echoes what we send: our own command comes back as a frame, no answer
    link = BridgeLink("loop://", command_timeout_s=0.05, retries=0)
    link.open(handshake=False)
    try:
        with pytest.raises(CommandTimeoutError):
            link.set_power(0.5)
        stats = link.stats()
        assert stats.frames_ok == 1 and stats.bytes_in == stats.bytes_out
    finally:
        link.close()


def _transport(path, chunks, **options):
    from otswarm.firmware_bridge.transport import SerialTransport

    return SerialTransport(
        path, on_data=chunks.append, on_lost=lambda r: None, on_reopened=lambda: None, **options
    )


def test_an_idle_reader_blocks_until_bytes_arrive():
    """The reader thread does not poll: on a silent port no read returns for a while
    (the old reader woke every 50 ms)."""
    master, path, slave = raw_pty()
    chunks = []
    transport = _transport(path, chunks)
    try:
        transport.open()
        reads = []
        port = transport._port
        real_read = port.read
        port.read = lambda size: reads.append(size) or real_read(size)
        os.write(master, b"wake")  # ends the read in flight, which began before the count
        assert wait_until(lambda: b"".join(chunks) == b"wake", 5.0)
        os.write(master, b"abc")
        assert wait_until(lambda: b"".join(chunks) == b"wakeabc", 5.0)
        quiet = len(reads)
        threading.Event().wait(0.3)
        assert len(reads) == quiet  # the read in flight waits for bytes or its timeout
    finally:
        transport.close()
        os.close(master)
        os.close(slave)


def test_close_interrupts_a_blocked_read():
    master, path, slave = raw_pty()
    transport = _transport(path, [], read_timeout_s=60.0)
    try:
        transport.open()
        thread = transport._thread
        threading.Event().wait(0.1)  # the reader is blocked in its read
        transport.close()
        assert not thread.is_alive()  # joined within close's 2 s, not the read's 60 s
    finally:
        transport.close()
        os.close(master)
        os.close(slave)
