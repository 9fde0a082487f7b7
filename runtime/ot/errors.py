"""Typed errors of the OT kernels."""

from __future__ import annotations

from otswarm.errors import OtswarmError


class OTInputError(OtswarmError, ValueError):
    """An OT solver got input it cannot solve: a wrong shape, a negative or
    non-finite weight, a non-finite cost, ``reg <= 0``, unequal masses for a
    balanced problem. The message names the argument and what was wrong."""
