"""Typed errors of the agent loop."""

from otswarm.errors import OtswarmError


class AgentError(OtswarmError):
    """Base class of the agent loop's own errors."""


class TelemetryError(AgentError, ValueError):
    """A telemetry reading is missing, stale or not finite; the message names the field."""
