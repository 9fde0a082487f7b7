"""Bounds-checked reading of a payload: every short read is a TruncatedPayloadError.

Fields are read in place (``struct.unpack_from``, ``np.frombuffer`` with an
offset): reading copies nothing but the values themselves.
"""

from __future__ import annotations

import struct

import numpy as np

from otswarm.summaries.errors import InvalidFieldError, TruncatedPayloadError


class PayloadReader:
    """Reads fields from ``data[:end]`` front to back (``end``: all of it when None);
    ``where`` names the payload in errors, with the sender, kind and sequence of its
    ``header`` once the codec has read it (formatted only when an error needs it)."""

    __slots__ = ("_where", "data", "end", "header", "offset")

    def __init__(self, data: bytes, where: str = "payload", end: int | None = None) -> None:
        self.data = data
        self.end = len(data) if end is None else end
        self.offset = 0
        self._where = where
        self.header = None

    @property
    def where(self) -> str:
        h = self.header
        if h is None:
            return self._where
        return f"{self._where} ({h.agent}/{h.kind.topic_name} #{h.sequence})"

    def _short(self, size: int, what: str) -> None:
        """Raise for a read of ``size`` bytes past the end."""
        start = self.offset
        raise TruncatedPayloadError(
            f"{self.where}: {what} needs {size} bytes at offset {start}, "
            f"only {self.end - start} left"
        )

    # Each read checks its bounds inline: a helper's call would cost a quarter of a
    # short read (the histogram's decoder makes four).
    def take(self, size: int, what: str) -> bytes:
        """The next ``size`` bytes."""
        start = self.offset
        stop = start + size
        if stop > self.end:
            self._short(size, what)
        self.offset = stop
        return self.data[start:stop]

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        start = self.offset
        stop = start + layout.size
        if stop > self.end:
            self._short(layout.size, what)
        self.offset = stop
        return layout.unpack_from(self.data, start)

    def array(self, dtype: np.dtype, count: int, what: str) -> np.ndarray:
        """``count`` values of ``dtype`` (little-endian: :data:`U16`, :data:`F32`), a
        read-only view of the payload."""
        start = self.offset
        stop = start + dtype.itemsize * count
        if stop > self.end:
            self._short(stop - start, what)
        self.offset = stop
        return np.frombuffer(self.data, dtype, count, start)

    def text(self, what: str) -> str:
        """A UTF-8 string prefixed by its length in one byte."""
        (length,) = self.unpack(_U8, f"{what} length")
        raw = self.take(length, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidFieldError(f"{self.where}: {what} is not UTF-8") from exc

    def expect_end(self) -> None:
        if self.offset != self.end:
            raise TruncatedPayloadError(
                f"{self.where}: {self.end - self.offset} unexpected trailing bytes "
                f"at offset {self.offset}"
            )


_U8 = struct.Struct("<B")
U16 = np.dtype("<u2")  # the wire's arrays
F32 = np.dtype("<f4")


def pack_text(value: str) -> bytes:
    """The inverse of :meth:`PayloadReader.text` (ids are ASCII, at most 32 bytes)."""
    raw = value.encode("utf-8")
    return _U8.pack(len(raw)) + raw
