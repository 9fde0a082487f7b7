"""Typed errors shared by the runtime.

Every error the runtime raises on bad input derives from :class:`OtswarmError`;
the serial bridge, which sits below the runtime, has its own root
(:class:`~otswarm.firmware_bridge.errors.BridgeError`). An agent loop catches
both, :data:`PROJECT_ERRORS`, logs the error and keeps running.
"""

from otswarm.firmware_bridge.errors import BridgeError


class OtswarmError(Exception):
    """Base class of every error the runtime raises on purpose."""


class ConfigError(OtswarmError, ValueError):
    """A configuration file or value is wrong; the message names the key."""


class BrokerError(OtswarmError, RuntimeError):
    """The embedded broker could not be started or reached."""


class StopRequested(OtswarmError):
    """A stop (SIGTERM) was asked for while a part was still being opened."""


#: Every error type otswarm raises on purpose: the runtime's and the serial bridge's.
PROJECT_ERRORS = (OtswarmError, BridgeError)
