"""TOML configuration files: one parser shim and one validator for every table.

The agent's config (``agent/config.py``) and the board profiles
(``energy/profile.py``) are TOML files whose tables map one-to-one onto frozen
dataclasses. :func:`parse_toml` reads the text (``tomllib``, or ``tomli`` on
Python 3.10); :func:`table_to_dataclass` checks that every key is a field of the
dataclass, that every field without a default is present and that each value
has the field's type. Every error is raised as the caller's subclass of
:class:`~otswarm.errors.ConfigError` and names the file and the key as
``where.key`` (``agent.toml: [link].port: expected an integer, got '80'``).

Supported field types: ``str``, ``int``, ``float`` (an int is accepted),
``bool``, ``list``, ``pathlib.Path``, ``X | None`` of those and ``tuple[X, ...]``.
Ranges (``> 0``, ``finite``) are the caller's to check once the types are right.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from otswarm.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 boards
    import tomli as tomllib

T = TypeVar("T")


def parse_toml(text: str, where: str, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """The TOML document in ``text``; ``where`` names the file in the error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: not valid TOML: {exc}") from exc


def table_to_dataclass(
    cls: type[T], table: Any, where: str, error: type[ConfigError] = ConfigError
) -> T:
    """Build ``cls`` from the TOML ``table`` found at ``where`` (e.g. ``"agent.toml: [link]"``)."""
    if not isinstance(table, dict):
        raise error(f"{where}: expected a table, got {type(table).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise error(
            f"{where}.{unknown[0]}: unknown key {unknown[0]!r} "
            f"(known keys: {', '.join(sorted(fields))})"
        )
    values = {}
    for name, field in fields.items():
        if name not in table:
            no_default = field.default is dataclasses.MISSING
            if no_default and field.default_factory is dataclasses.MISSING:
                raise error(f"{where}.{name}: missing required key {name!r}")
            continue
        values[name] = coerce(table[name], hints[name], f"{where}.{name}", error)
    return cls(**values)


def coerce(value: Any, kind: Any, where: str, error: type[ConfigError] = ConfigError) -> Any:
    """Check ``value`` against the annotation ``kind`` and convert it (Path, tuple, float)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(value, option, where, error)
            except ConfigError:
                pass
        names = " or ".join(_name(o) for o in options if o is not type(None))
        raise error(f"{where}: expected {names}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, list):
            raise error(f"{where}: expected a list, got {value!r}")
        item = typing.get_args(kind)[0]
        return tuple(coerce(v, item, f"{where}[{i}]", error) for i, v in enumerate(value))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is Path and isinstance(value, str):
        return Path(value).expanduser()
    if kind is int and isinstance(value, bool):
        raise error(f"{where}: expected an integer, got {value!r}")
    if isinstance(kind, type) and kind is not Path and isinstance(value, kind):
        return value
    raise error(f"{where}: expected {_name(kind)}, got {value!r}")


def _name(kind: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    names.update({list: "a list", Path: "a path"})
    return names.get(kind, getattr(kind, "__name__", str(kind)))
