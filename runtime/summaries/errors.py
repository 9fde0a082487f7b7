"""Typed errors of the summary wire format.

Every payload the decoder refuses raises a subclass of :class:`SummaryDecodeError`,
so a receiver catches one type, counts it, logs it and keeps running. Building a
message from bad values (on the sending side) raises :class:`SummaryValueError`.
"""

from otswarm.errors import OtswarmError


class SummaryValueError(OtswarmError, ValueError):
    """A message was built from values the wire format cannot carry (sender side)."""


class SummaryDecodeError(OtswarmError, ValueError):
    """A received payload is not a valid summary; the message says what and where."""


class TruncatedPayloadError(SummaryDecodeError):
    """The payload ends before a field it announces (or is longer than it should be)."""


class BadMagicError(SummaryDecodeError):
    """The payload does not start with the otswarm magic bytes."""


class UnsupportedVersionError(SummaryDecodeError):
    """The payload was written by a wire-format version this decoder does not know."""


class UnknownKindError(SummaryDecodeError):
    """The header names a message kind this decoder does not know."""


class InvalidFieldError(SummaryDecodeError):
    """A field holds a value out of its domain (non-finite, negative weight, bad id...)."""


class SizeLimitError(SummaryDecodeError):
    """A size field (bins, points, dimension, transfers, payload) exceeds its limit."""


class AuthenticationError(SummaryDecodeError):
    """The payload lacks the tag or signature the receiver requires, or it is wrong, or
    its sender is not who the topic says."""


class UnsignedMessageError(AuthenticationError):
    """The receiver requires an HMAC tag (or a signature) and the payload carries none."""


class ForgedMessageError(AuthenticationError):
    """The HMAC tag does not match under the swarm key, or the signature is not the
    sender's."""


class UnknownSignerError(AuthenticationError):
    """The receiver checks signatures and its roster holds no key for the sender."""


class ReplayError(SummaryDecodeError):
    """The (sender, kind, sequence) was already accepted, is older than the window, or
    belongs to an older session of its sender."""


class FutureMessageError(ReplayError):
    """The message is stamped further ahead of the receiver's clock than the allowed skew."""
