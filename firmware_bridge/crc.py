"""CRC-32 (IEEE 802.3, the zlib/PNG polynomial) over a frame's header and payload.

Parameters: reflected polynomial 0xEDB88320, initial value 0xFFFFFFFF, final
XOR 0xFFFFFFFF; ``crc32(b"123456789") == 0xCBF43926``. A 32-bit check misses a
random corruption with probability 2**-32, so a 1 % byte-error wire never lets a
bad frame through in practice (a 16-bit CRC would, once in 65,536 bad frames).

Uses ``binascii.crc32`` (C on CPython, built into MicroPython's RP2040 and ESP32
ports) and falls back to a table-driven loop where a port lacks it.
"""

try:
    from binascii import crc32 as _native_crc32
except ImportError:  # a MicroPython port built without binascii.crc32
    _native_crc32 = None

_POLY = 0xEDB88320


def _make_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = None


def crc32_table(data):
    """Table-driven CRC-32 of ``data``: one table lookup per byte."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _make_table()
    table = _TABLE
    c = 0xFFFFFFFF
    for byte in data:
        c = table[(c ^ byte) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def crc32(data):
    """CRC-32 of ``data`` (bytes-like) as an unsigned 32-bit int."""
    if _native_crc32 is not None:
        return _native_crc32(data) & 0xFFFFFFFF
    return crc32_table(data)
