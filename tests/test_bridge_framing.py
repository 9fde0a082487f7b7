"""Framing of the serial bridge: COBS, CRC-32, frames, packetizer, payloads, fuzz."""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otswarm.firmware_bridge import cobs, protocol
from otswarm.firmware_bridge.crc import crc32, crc32_table
from otswarm.firmware_bridge.errors import (
    BridgeError,
    FrameCRCError,
    FrameDecodeError,
    FrameError,
    FrameTooLongError,
    FrameVersionError,
    PayloadError,
)
from otswarm.firmware_bridge.frames import (
    MAX_ENCODED_LEN,
    MAX_PAYLOAD_LEN,
    Frame,
    decode_frame,
    encode_frame,
)
from otswarm.firmware_bridge.packetizer import Packetizer


@given(st.binary(max_size=700))
def test_cobs_round_trip_has_no_zero_and_bounded_overhead(data):
    encoded = cobs.encode(data)
    assert 0 not in encoded
    assert len(encoded) <= cobs.max_encoded_len(len(data))
    assert cobs.decode(encoded) == data


def test_cobs_known_vectors():
    # vectors of Cheshire & Baker / the Wikipedia COBS table
    assert cobs.encode(b"\x00") == b"\x01\x01"
    assert cobs.encode(b"\x00\x00") == b"\x01\x01\x01"
    assert cobs.encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert cobs.encode(bytes(range(1, 255))) == b"\xff" + bytes(range(1, 255)) + b"\x01"


def test_crc32_check_value_and_table_matches_native():
    assert crc32(b"123456789") == 0xCBF43926
    data = bytes(random.Random(1).randrange(256) for _ in range(1000))
    assert crc32_table(data) == crc32(data) == zlib.crc32(data)


def test_frame_round_trip_and_errors_are_typed():
    wire = encode_frame(protocol.MSG_ACK, 300, b"\x00\x01payload")
    assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
    assert decode_frame(wire[1:-1]) == Frame(protocol.MSG_ACK, 300 & 0xFF, b"\x00\x01payload")
    for cls in (FrameCRCError, FrameDecodeError, FrameTooLongError, FrameVersionError):
        assert issubclass(cls, FrameError) and issubclass(cls, BridgeError)

    damaged = bytearray(wire[1:-1])
    damaged[5] ^= 0x40 if damaged[5] != 0x40 else 0x41
    with pytest.raises(FrameCRCError):
        decode_frame(bytes(damaged))
    with pytest.raises(FrameDecodeError):
        decode_frame(b"\x05\x01")
    # a frame with version 2 and a correct CRC: the version check names it
    raw = bytes([2, protocol.MSG_ACK, 1])
    with pytest.raises(FrameVersionError):
        decode_frame(cobs.encode(raw + struct.pack("<I", crc32(raw))))
    with pytest.raises(PayloadError):
        encode_frame(protocol.MSG_ACK, 0, bytes(MAX_PAYLOAD_LEN + 1))


def test_packetizer_resynchronises_after_garbage_and_splits_anywhere():
    frames = [encode_frame(protocol.MSG_ACK, i, struct.pack("<f", i)) for i in range(20)]
    stream = b"\x17\x99garbage" + b"".join(frames[:10]) + b"\x03\x01" + b"".join(frames[10:])
    rng = random.Random(2)
    packetizer = Packetizer()
    items = []
    i = 0
    while i < len(stream):  # feed in random-sized chunks: frames straddle reads
        n = rng.randint(1, 17)
        items += packetizer.feed(stream[i : i + n])
        i += n
    good = [item for item in items if isinstance(item, Frame)]
    assert [f.seq for f in good] == list(range(20))
    assert sum(isinstance(item, FrameError) for item in items) == 2  # the two garbage pieces


def test_packetizer_rejects_over_long_frame_with_bounded_buffer():
    packetizer = Packetizer()
    good = encode_frame(protocol.MSG_ACK, 1, b"ok!!")
    items = packetizer.feed(b"\x00" + b"\x01" * (MAX_ENCODED_LEN + 1))
    assert len(items) == 1 and isinstance(items[0], FrameTooLongError)
    for _ in range(100):  # 1 MB more without a delimiter: nothing buffered, nothing reported
        assert packetizer.feed(b"\x7f" * 10_000) == []
        assert packetizer.buffered <= MAX_ENCODED_LEN
    items = packetizer.feed(good)  # the delimiter ends the skipped frame; the next is intact
    assert items == [Frame(protocol.MSG_ACK, 1, b"ok!!")]


def test_payloads_round_trip_and_reject_wrong_lengths():
    records = [
        protocol.Hello(1),
        protocol.HelloReply(1, protocol.CAP_ENERGY_SHARING, 42, "board"),
        protocol.Telemetry(2**40, 5.0, 0.5, 2.5, 0.75, 1000.0, 1.5, 30.0, 0.25, protocol.MODE_ECO),
        protocol.SetPower(protocol.MODE_RUN, 0.5),
        protocol.SetTelemetryRate(10.0),
        protocol.EnergyTransfer(-12.5),
        protocol.Ack(0.0),
        protocol.Nack(protocol.ERR_UNSUPPORTED),
    ]
    for record in records:
        msg_type = protocol.message_type(record)
        assert protocol.decode_payload(msg_type, protocol.encode_payload(record)) == record
        if msg_type != protocol.MSG_HELLO_REPLY:
            with pytest.raises(PayloadError):
                protocol.decode_payload(msg_type, protocol.encode_payload(record) + b"\x00")
    with pytest.raises(PayloadError):
        protocol.decode_payload(0x7E, b"")


def test_fuzz_decoder_raises_only_typed_errors():
    """10,000 random byte strings (and 5,000 mutated good frames) into the decoder."""
    rng = random.Random(12345)
    template = encode_frame(
        protocol.MSG_TELEMETRY,
        9,
        protocol.encode_payload(protocol.Telemetry(1, 5, 0.5, 2.5, 0.5, 9, 1, 25, 1, 2)),
    )[1:-1]
    packetizer = Packetizer()
    outcomes = {"frame": 0, "error": 0}
    for n in range(15_000):
        if n < 10_000:
            data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        else:
            data = bytearray(template)
            for _ in range(rng.randint(1, 3)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            data = bytes(data)
        try:
            frame = decode_frame(data)
            protocol.decode_payload(frame.msg_type, frame.payload)
            outcomes["frame"] += 1
        except (FrameError, PayloadError):
            outcomes["error"] += 1
        for item in packetizer.feed(data):
            assert isinstance(item, (Frame, FrameError))
        assert packetizer.buffered <= MAX_ENCODED_LEN
    assert outcomes["error"] > 14_000  # random bytes essentially never carry a valid CRC-32


def test_worked_examples_in_the_protocol_doc_match_the_encoder():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "serial-protocol.md").read_text()
    examples = [
        encode_frame(protocol.MSG_HELLO, 1, protocol.encode_payload(protocol.Hello(1))),
        encode_frame(protocol.MSG_SET_POWER, 2, protocol.encode_payload(protocol.SetPower(2, 0.5))),
        encode_frame(protocol.MSG_ACK, 2, protocol.encode_payload(protocol.Ack(0.5))),
        encode_frame(
            protocol.MSG_ENERGY_TRANSFER,
            3,
            protocol.encode_payload(protocol.EnergyTransfer(-250.0)),
        ),
        encode_frame(protocol.MSG_NACK, 3, protocol.encode_payload(protocol.Nack(1))),
    ]
    for wire in examples:
        assert wire.hex(" ") in doc
