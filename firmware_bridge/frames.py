"""One frame on the wire: header, payload and CRC-32, COBS-encoded between 0x00 bytes.

Raw frame (before COBS), all integers little-endian::

    offset  size  field
    0       1     version   (PROTOCOL_VERSION)
    1       1     type      (firmware_bridge.protocol.MSG_*)
    2       1     sequence  (0..255, wraps)
    3       n     payload   (0 <= n <= MAX_PAYLOAD_LEN)
    3+n     4     CRC-32 of bytes 0 .. 3+n-1 (firmware_bridge.crc)

On the wire: ``0x00 || COBS(raw) || 0x00``. The leading delimiter closes any
garbage left in the receiver's buffer, so one damaged frame never takes the
next good one with it. See docs/serial-protocol.md.

MicroPython-compatible: the reference firmware imports this module as it is.
"""

import struct
from collections import namedtuple

from .cobs import decode as cobs_decode
from .cobs import encode as cobs_encode
from .cobs import max_encoded_len
from .crc import crc32
from .errors import (
    FrameCRCError,
    FrameDecodeError,
    FrameVersionError,
    PayloadError,
)

PROTOCOL_VERSION = 1
HEADER_LEN = 3
CRC_LEN = 4
MAX_PAYLOAD_LEN = 128
MIN_RAW_LEN = HEADER_LEN + CRC_LEN
MAX_RAW_LEN = HEADER_LEN + MAX_PAYLOAD_LEN + CRC_LEN
MAX_ENCODED_LEN = max_encoded_len(MAX_RAW_LEN)
DELIMITER = b"\x00"

# a decoded frame: message type (int), sequence (0..255), payload (bytes)
Frame = namedtuple("Frame", ("msg_type", "seq", "payload"))


def encode_frame(msg_type, seq, payload=b""):
    """Wire bytes of one frame: ``0x00 || COBS(header || payload || crc32) || 0x00``."""
    if len(payload) > MAX_PAYLOAD_LEN:
        raise PayloadError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_LEN}")
    raw = bytearray(struct.pack("<BBB", PROTOCOL_VERSION, msg_type & 0xFF, seq & 0xFF))
    raw.extend(payload)
    raw.extend(struct.pack("<I", crc32(raw)))
    return DELIMITER + cobs_encode(raw) + DELIMITER


def decode_frame(encoded):
    """Decode the COBS bytes between two delimiters into a :class:`Frame`.

    Raises :class:`FrameDecodeError` (bad COBS, shorter than header + CRC, longer
    than the maximum), :class:`FrameVersionError` or :class:`FrameCRCError`.
    """
    raw = cobs_decode(encoded)
    if len(raw) < MIN_RAW_LEN:
        raise FrameDecodeError(f"frame of {len(raw)} bytes is shorter than {MIN_RAW_LEN}")
    if len(raw) > MAX_RAW_LEN:
        raise FrameDecodeError(f"frame of {len(raw)} bytes is longer than {MAX_RAW_LEN}")
    body = raw[:-CRC_LEN]
    (sent_crc,) = struct.unpack("<I", raw[-CRC_LEN:])
    actual_crc = crc32(body)
    if sent_crc != actual_crc:
        raise FrameCRCError(
            f"CRC mismatch: frame says 0x{sent_crc:08x}, content gives 0x{actual_crc:08x}"
        )
    if body[0] != PROTOCOL_VERSION:
        raise FrameVersionError(
            f"frame version {body[0]}, this side speaks version {PROTOCOL_VERSION}"
        )
    return Frame(body[1], body[2], bytes(body[HEADER_LEN:]))
