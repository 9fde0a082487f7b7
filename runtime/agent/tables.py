"""Validate one TOML table into a dataclass, naming the bad key on error.

The agent's configuration is a TOML file whose tables map one-to-one onto
dataclasses. :func:`table_to_dataclass` checks that every key is a field of the
dataclass, that every field without a default is present and that each value
has the field's type, and raises :class:`~otswarm.errors.ConfigError` whose
message names the key as ``[section].key`` (and the file, when given).

Supported field types: ``str``, ``int``, ``float`` (an int is accepted),
``bool``, ``pathlib.Path``, ``X | None`` of those and ``tuple[X, ...]``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from otswarm.errors import ConfigError

T = TypeVar("T")


def table_to_dataclass(cls: type[T], table: Any, where: str) -> T:
    """Build ``cls`` from the TOML ``table`` found at ``where`` (e.g. ``"agent.toml: [link]"``)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {type(table).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(fields))})"
        )
    values = {}
    for name, field in fields.items():
        if name not in table:
            no_default = field.default is dataclasses.MISSING
            if no_default and field.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where}: missing required key {name!r}")
            continue
        values[name] = coerce(table[name], hints[name], f"{where}.{name}")
    return cls(**values)


def coerce(value: Any, kind: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``kind`` and convert it (Path, tuple, float)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(value, option, where)
            except ConfigError:
                pass
        names = " or ".join(_name(o) for o in options if o is not type(None))
        raise ConfigError(f"{where}: expected {names}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = typing.get_args(kind)[0]
        return tuple(coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is Path and isinstance(value, str):
        return Path(value).expanduser()
    if kind is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if isinstance(kind, type) and kind is not Path and isinstance(value, kind):
        return value
    raise ConfigError(f"{where}: expected {_name(kind)}, got {value!r}")


def _name(kind: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        kind, "a path" if kind is Path else getattr(kind, "__name__", str(kind))
    )
