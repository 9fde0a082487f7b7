"""Bytes in, frames out: split a byte stream on 0x00 and decode each piece.

The packetizer never touches a port (the transport feeds it) and never raises:
:meth:`Packetizer.feed` returns decoded frames and the typed errors of the
pieces it dropped, in stream order, so the caller counts and logs them. Its
buffer is bounded: once more than ``max_encoded_len`` bytes arrive without a
delimiter it reports :class:`FrameTooLongError` and discards up to the next
0x00, which is also where it resynchronises after any garbage.

MicroPython-compatible: the reference firmware imports this module as it is.
"""

from .errors import FrameError, FrameTooLongError
from .frames import DELIMITER, MAX_ENCODED_LEN, decode_frame


class Packetizer:
    """Stateful splitter; one per byte stream."""

    def __init__(self, max_encoded_len=MAX_ENCODED_LEN):
        self.max_encoded_len = max_encoded_len
        self._buffer = bytearray()
        self._discarding = False  # an over-long frame is being skipped up to its delimiter

    @property
    def buffered(self):
        """Bytes held while waiting for a delimiter (never above ``max_encoded_len``)."""
        return len(self._buffer)

    def feed(self, data):
        """Consume ``data``; return a list of :class:`Frame` and :class:`FrameError` items."""
        results = []
        data = bytes(data)
        start = 0
        while True:
            end = data.find(DELIMITER, start)
            piece = data[start:] if end < 0 else data[start:end]
            if self._discarding:
                if end >= 0:
                    self._discarding = False
            elif len(self._buffer) + len(piece) > self.max_encoded_len:
                results.append(
                    FrameTooLongError(
                        f"more than {self.max_encoded_len} bytes without a delimiter; "
                        "skipping to the next 0x00"
                    )
                )
                self._buffer = bytearray()
                self._discarding = end < 0
            elif end < 0:
                self._buffer.extend(piece)
            elif self._buffer or piece:
                segment = bytes(self._buffer) + piece
                self._buffer = bytearray()
                try:
                    results.append(decode_frame(segment))
                except FrameError as exc:
                    results.append(exc)
            if end < 0:
                return results
            start = end + 1
