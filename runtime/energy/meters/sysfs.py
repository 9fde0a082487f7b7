"""Reading sysfs attribute files with typed errors (one number or word per file)."""

from __future__ import annotations

from pathlib import Path

from otswarm.energy.errors import MeterError, MeterPermissionError, MeterUnavailableError


def read_text(path: Path, *, hint: str = "") -> str:
    """The stripped contents of a sysfs file.

    Raises :class:`MeterPermissionError` (with ``hint`` on how to get access),
    :class:`MeterUnavailableError` when it does not exist, :class:`MeterError`
    for any other I/O error (e.g. EIO from a sensor that stopped answering).
    """
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except PermissionError as exc:
        raise MeterPermissionError(
            f"{path}: permission denied{'; ' + hint if hint else ''}"
        ) from exc
    except FileNotFoundError as exc:
        raise MeterUnavailableError(f"{path}: no such file") from exc
    except OSError as exc:
        raise MeterError(f"{path}: read failed: {exc.strerror}") from exc


def read_int(path: Path, *, hint: str = "") -> int:
    """A sysfs file holding one integer."""
    text = read_text(path, hint=hint)
    try:
        return int(text)
    except ValueError as exc:
        raise MeterError(f"{path}: expected an integer, got {text!r}") from exc
