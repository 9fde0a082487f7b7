"""Typed errors of keys, signatures and rosters.

Every error this package raises derives from :class:`IdentityError` (itself an
:class:`~otswarm.errors.OtswarmError`), so callers catch one type, log it and go on.
"""

from otswarm.errors import OtswarmError


class IdentityError(OtswarmError, ValueError):
    """A key, a signature or a roster is not what it must be; the message says which."""


class KeyFileError(IdentityError):
    """A key file is missing, unreadable, not an Ed25519 key, or would be overwritten."""


class SignatureError(IdentityError):
    """A signature does not verify under the public key it is checked against."""


class RosterError(IdentityError):
    """A roster document is malformed, for another swarm, or not signed by the operator."""


class UnknownAgentError(IdentityError):
    """The roster holds no public key for this agent id."""
