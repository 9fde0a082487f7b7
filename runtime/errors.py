"""Typed errors shared by the runtime.

Every error the runtime raises on bad input derives from :class:`OtswarmError`,
so an agent loop can catch one type, log it and keep running.
"""


class OtswarmError(Exception):
    """Base class of every error otswarm raises on purpose."""


class ConfigError(OtswarmError, ValueError):
    """A configuration file or value is wrong; the message names the key."""


class BrokerError(OtswarmError, RuntimeError):
    """The embedded broker could not be started or reached."""
