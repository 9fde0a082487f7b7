"""Typed errors of the fleet tools."""

from otswarm.errors import OtswarmError


class FleetError(OtswarmError, RuntimeError):
    """A fleet command cannot do what it was asked (nothing to watch, bad options)."""


class SwarmNotFoundError(FleetError):
    """No swarm, or several, on the broker when ``--swarm`` was left out; or not that one."""
