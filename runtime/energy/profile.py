"""Board profiles: load and validate ``profiles/*.toml``.

A profile is the power model of one kind of board. The energy ledger prices
work with it (CPU seconds x ``per_core_w``, radio bytes x J/byte, the idle
baseline) and :func:`otswarm.energy.meters.discover_meter` reads which meter
the board has. Every number in a bundled profile cites its source in a comment;
docs/energy.md describes every key.

Units: watts (W), joules per byte (J/B), seconds (s).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from otswarm.energy.errors import ProfileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PROFILE_PACKAGE = "otswarm.profiles"

# meter kind -> {option key: type}; ``kind`` and ``sample_period_s`` are common to all
METER_OPTIONS: dict[str, dict[str, type]] = {
    "auto": {},
    "model": {"root": str},
    "rapl": {"root": str},
    "ina219": {"bus": int, "address": int, "shunt_ohm": float, "max_current_a": float},
    "ina226": {"bus": int, "address": int, "shunt_ohm": float, "max_current_a": float},
    "ina2xx_hwmon": {"root": str},
    "ina3221": {"root": str},
    "pi5_pmic": {"command": list, "correction_scale": float, "correction_offset_w": float},
    "telemetry": {"stale_after_s": float},
}

_TABLES = {
    "board": {"id": str, "name": str, "cores": int},
    "power": {"idle_w": float, "loaded_w": float, "per_core_w": float},
    "radio": {"kind": str, "tx_j_per_byte": float, "rx_j_per_byte": float},
    "serial": {"j_per_byte": float},
}
_OPTIONAL = {("radio", "kind")}


@dataclass(frozen=True)
class MeterSpec:
    """Which meter a board uses (``kind``, one of :data:`METER_OPTIONS`), how often
    to sample it (s) and the kind's own options (bus, address, shunt, ...)."""

    kind: str = "auto"
    sample_period_s: float | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class BoardProfile:
    """The power model of one board.

    ``idle_w``: whole-board power at idle (W); ``loaded_w``: with every core busy (W);
    ``per_core_w``: marginal power of one fully busy core (W), which prices CPU
    seconds; ``radio_*_j_per_byte``: Wi-Fi energy per payload byte sent/received
    (J/B); ``serial_j_per_byte``: energy per byte on the MCU serial link (J/B).
    """

    id: str
    name: str
    cores: int
    idle_w: float
    loaded_w: float
    per_core_w: float
    radio_kind: str
    radio_tx_j_per_byte: float
    radio_rx_j_per_byte: float
    serial_j_per_byte: float
    meter: MeterSpec
    path: str = ""

    def j_per_byte(self, component: str) -> float:
        """Energy per byte (J/B) of a byte-priced ledger component."""
        prices = {
            "mqtt_tx": self.radio_tx_j_per_byte,
            "mqtt_rx": self.radio_rx_j_per_byte,
            "serial": self.serial_j_per_byte,
        }
        if component not in prices:
            raise ProfileError(
                f"profile {self.id!r}: no per-byte price for component {component!r} "
                f"(priced: {', '.join(sorted(prices))})"
            )
        return prices[component]


def list_profiles() -> list[str]:
    """Ids of the profiles bundled in the ``profiles`` package (file stems)."""
    root = resources.files(PROFILE_PACKAGE)
    return sorted(p.name.removesuffix(".toml") for p in root.iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str | Path) -> BoardProfile:
    """Load a bundled profile by id (``"rpi5"``) or any profile file by path.

    Raises :class:`ProfileError` naming the file and the key when the file is
    missing, is not TOML, lacks a key, has an unknown key or a bad value.
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileError(f"{where}: cannot read profile: {exc.strerror}") from exc
    else:
        resource = resources.files(PROFILE_PACKAGE) / f"{name_or_path}.toml"
        where = f"profiles/{name_or_path}.toml"
        if not resource.is_file():
            raise ProfileError(
                f"no bundled profile {str(name_or_path)!r} (have: {', '.join(list_profiles())})"
            )
        text = resource.read_text(encoding="utf-8")
    return parse_profile(text, where)


def parse_profile(text: str, where: str = "<profile>") -> BoardProfile:
    """Validate the TOML text of a profile; ``where`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: not valid TOML: {exc}") from exc
    _reject_unknown(data, {*_TABLES, "meter"}, where, "")
    values: dict[tuple[str, str], Any] = {}
    for table, keys in _TABLES.items():
        section = _table(data, table, where)
        _reject_unknown(section, set(keys), where, f"{table}.")
        for key, kind in keys.items():
            if key not in section and (table, key) in _OPTIONAL:
                continue
            values[table, key] = _typed(section, key, kind, where, f"{table}.{key}")
    _check_power(values, where)
    return BoardProfile(
        id=values["board", "id"],
        name=values["board", "name"],
        cores=values["board", "cores"],
        idle_w=values["power", "idle_w"],
        loaded_w=values["power", "loaded_w"],
        per_core_w=values["power", "per_core_w"],
        radio_kind=values.get(("radio", "kind"), "wifi"),
        radio_tx_j_per_byte=values["radio", "tx_j_per_byte"],
        radio_rx_j_per_byte=values["radio", "rx_j_per_byte"],
        serial_j_per_byte=values["serial", "j_per_byte"],
        meter=_meter_spec(_table(data, "meter", where), where),
        path=where,
    )


def _table(data: Mapping, name: str, where: str) -> Mapping:
    if name not in data:
        raise ProfileError(f"{where}: missing table [{name}]")
    if not isinstance(data[name], Mapping):
        raise ProfileError(f"{where}: {name} must be a table, got {type(data[name]).__name__}")
    return data[name]


def _reject_unknown(section: Mapping, allowed: set[str], where: str, prefix: str) -> None:
    for key in section:
        if key not in allowed:
            raise ProfileError(
                f"{where}: unknown key {prefix}{key} (allowed: {', '.join(sorted(allowed))})"
            )


def _typed(section: Mapping, key: str, kind: type, where: str, dotted: str) -> Any:
    if key not in section:
        raise ProfileError(f"{where}: missing key {dotted}")
    value = section[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProfileError(
            f"{where}: {dotted} must be {kind.__name__}, got {type(value).__name__} {value!r}"
        )
    if kind is float and (not math.isfinite(value) or value < 0):
        raise ProfileError(f"{where}: {dotted} must be a finite number >= 0, got {value!r}")
    if kind is int and value <= 0:
        raise ProfileError(f"{where}: {dotted} must be > 0, got {value!r}")
    if kind is str and not value.strip():
        raise ProfileError(f"{where}: {dotted} must not be empty")
    return value


def _check_power(values: Mapping[tuple[str, str], Any], where: str) -> None:
    idle, loaded = values["power", "idle_w"], values["power", "loaded_w"]
    if idle <= 0:
        raise ProfileError(f"{where}: power.idle_w must be > 0, got {idle!r}")
    if loaded <= idle:
        raise ProfileError(
            f"{where}: power.loaded_w ({loaded!r}) must be greater than power.idle_w ({idle!r})"
        )
    if values["power", "per_core_w"] <= 0:
        raise ProfileError(f"{where}: power.per_core_w must be > 0")


def _meter_spec(section: Mapping, where: str) -> MeterSpec:
    kind = _typed(section, "kind", str, where, "meter.kind")
    if kind not in METER_OPTIONS:
        raise ProfileError(
            f"{where}: meter.kind {kind!r} is not a meter (one of: {', '.join(METER_OPTIONS)})"
        )
    allowed = METER_OPTIONS[kind]
    _reject_unknown(section, {"kind", "sample_period_s", *allowed}, where, "meter.")
    period = None
    if "sample_period_s" in section:
        period = _typed(section, "sample_period_s", float, where, "meter.sample_period_s")
        if period <= 0:
            raise ProfileError(f"{where}: meter.sample_period_s must be > 0")
    options = {
        key: _typed(section, key, kind_, where, f"meter.{key}")
        for key, kind_ in allowed.items()
        if key in section
    }
    return MeterSpec(kind=kind, sample_period_s=period, options=MappingProxyType(options))
