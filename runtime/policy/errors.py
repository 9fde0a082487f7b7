"""Typed errors of the policy package."""

from otswarm.errors import OtswarmError


class PolicyCardError(OtswarmError, ValueError):
    """A model card is missing, malformed, or does not match the model or the
    observation layout the caller expects; the message names the field."""


class ObservationError(OtswarmError, ValueError):
    """A quantity needed to build an observation is missing or not a finite number."""
