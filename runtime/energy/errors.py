"""Typed errors of the energy package (meters, profiles, ledger)."""

from __future__ import annotations

from otswarm.errors import ConfigError, OtswarmError


class EnergyError(OtswarmError):
    """Base class of every error raised by :mod:`otswarm.energy`."""


class ProfileError(ConfigError, EnergyError):
    """A board profile is missing or wrong; the message names the file and the key."""


class MeterError(EnergyError, RuntimeError):
    """A power meter could not be opened or read; the message names the path or bus."""


class MeterUnavailableError(MeterError):
    """The meter asked for does not exist on this board (no sysfs tree, no sensor)."""


class MeterPermissionError(MeterError, PermissionError):
    """The meter exists but this user may not read it (e.g. RAPL ``energy_uj`` is
    root-only since Linux 5.10); the message says how to grant access."""


class MeterStaleError(MeterError):
    """A pushed-telemetry meter has had no fresh value for longer than allowed."""


class LedgerError(EnergyError, ValueError):
    """A ledger call got bad input (unknown component, negative or NaN joules) or a
    ledger file could not be opened or is not a ledger."""
