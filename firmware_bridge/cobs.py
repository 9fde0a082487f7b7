"""Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999).

COBS rewrites a packet so that it contains no 0x00 byte; 0x00 then delimits
packets on the wire. The packet is cut at every zero; each piece becomes
``[len(piece) + 1] + piece`` and pieces longer than 254 bytes are split with a
0xFF code that implies no zero. Overhead: at most ``ceil(n / 254)`` bytes, plus
one, for ``n`` input bytes (:func:`max_encoded_len`).

MicroPython-compatible (no annotations, f-strings only, no CPython-only modules):
the reference firmware imports this module as it is.
"""

from .errors import FrameDecodeError


def max_encoded_len(n):
    """Longest COBS encoding of ``n`` bytes: ``n + ceil(n / 254) + (n == 0)``."""
    return n + (n + 253) // 254 + (1 if n == 0 else 0)


def encode(data):
    """COBS-encode ``data`` (bytes-like); the result holds no 0x00 byte."""
    out = bytearray()
    code_index = 0
    out.append(0)  # placeholder for the first code byte
    code = 1
    for byte in data:
        if byte == 0:
            out[code_index] = code
            code_index = len(out)
            out.append(0)
            code = 1
            continue
        out.append(byte)
        code += 1
        if code == 0xFF:
            out[code_index] = code
            code_index = len(out)
            out.append(0)
            code = 1
    out[code_index] = code
    return bytes(out)


def decode(data):
    """Invert :func:`encode`; raise :class:`FrameDecodeError` on a malformed block.

    ``data`` must not contain the 0x00 delimiter. A code byte ``c`` announces
    ``c - 1`` data bytes followed by an implicit zero, except after the last
    block and after a 0xFF block.
    """
    data = bytes(data)
    zero = data.find(b"\x00")
    if zero >= 0:
        raise FrameDecodeError(f"COBS: delimiter byte 0x00 at offset {zero} inside a frame")
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        end = i + code
        if end > n:
            raise FrameDecodeError(
                f"COBS: block at offset {i} announces {code - 1} bytes, only {n - i - 1} left"
            )
        out.extend(data[i + 1 : end])
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)
