"""Bounds-checked reading of a payload: every short read is a TruncatedPayloadError."""

from __future__ import annotations

import struct

import numpy as np

from otswarm.summaries.errors import InvalidFieldError, TruncatedPayloadError


class PayloadReader:
    """Reads fields from ``data`` front to back; ``where`` names the payload in errors."""

    def __init__(self, data: bytes, where: str = "payload") -> None:
        self.data = data
        self.offset = 0
        self.where = where

    def _take(self, size: int, what: str) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise TruncatedPayloadError(
                f"{self.where}: {what} needs {size} bytes at offset {self.offset}, "
                f"only {len(self.data) - self.offset} left"
            )
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        return layout.unpack(self._take(layout.size, what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        """``count`` little-endian values of ``dtype`` (a NumPy dtype string like ``<u2``)."""
        itemsize = np.dtype(dtype).itemsize
        return np.frombuffer(self._take(itemsize * count, what), dtype=dtype, count=count)

    def text(self, what: str) -> str:
        """A UTF-8 string prefixed by its length in one byte."""
        (length,) = self.unpack(_U8, f"{what} length")
        raw = self._take(length, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidFieldError(f"{self.where}: {what} is not UTF-8") from exc

    def expect_end(self) -> None:
        if self.offset != len(self.data):
            raise TruncatedPayloadError(
                f"{self.where}: {len(self.data) - self.offset} unexpected trailing bytes "
                f"at offset {self.offset}"
            )


_U8 = struct.Struct("<B")


def pack_text(value: str) -> bytes:
    """The inverse of :meth:`PayloadReader.text` (ids are ASCII, at most 32 bytes)."""
    raw = value.encode("utf-8")
    return _U8.pack(len(raw)) + raw
