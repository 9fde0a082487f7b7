"""Typed errors of the serial bridge.

The bridge sits below the runtime and imports nothing from it, so its errors
have their own root, :class:`BridgeError`. The runtime catches it next to its
own root (``otswarm.errors.PROJECT_ERRORS``). The same module runs on the
microcontroller (MicroPython), so the shared framing code raises the same types
on both ends. Single inheritance only: MicroPython cannot mix a second built-in
exception base into a class.
"""


class BridgeError(Exception):
    """Base class of every error of the serial bridge."""


# -- framing: the packetizer reports these and resynchronises -----------------


class FrameError(BridgeError):
    """A received frame is not valid; the packetizer drops it and resynchronises."""


class FrameDecodeError(FrameError):
    """The bytes between two delimiters are not a frame (bad COBS, too short, too long)."""


class FrameVersionError(FrameDecodeError):
    """The frame's version byte is not a protocol version this side speaks."""


class FrameCRCError(FrameError):
    """The frame decoded but its CRC-32 does not match its content."""


class FrameTooLongError(FrameError):
    """More bytes arrived without a delimiter than the longest legal frame."""


class PayloadError(BridgeError):
    """A payload does not fit its message type (wrong length, unknown type, too long)."""


# -- link: what BridgeLink raises to its caller -------------------------------


class LinkError(BridgeError):
    """The serial link is down or could not be opened."""


class CommandTimeoutError(BridgeError):
    """A command got no answer after every retry."""


class CommandRejectedError(BridgeError):
    """The microcontroller answered a command with NACK; ``code`` says why."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


class TelemetryTimeoutError(BridgeError):
    """No telemetry frame arrived within the time asked for."""
