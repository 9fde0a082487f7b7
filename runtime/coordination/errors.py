"""Typed errors of the coordination layer (alignment, allocation, drift, clustering)."""

from otswarm.errors import OtswarmError


class CoordinationError(OtswarmError, ValueError):
    """A coordination input is malformed; the message names the argument and the fault."""


class HistogramError(CoordinationError):
    """A histogram or its ordered support is invalid (shape, sign, mass, ordering)."""


class PlanError(CoordinationError):
    """An allocation plan or offer is inconsistent (shapes, negative joules, unknown agent)."""
