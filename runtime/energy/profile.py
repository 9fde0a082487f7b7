"""Board profiles: load and validate ``profiles/*.toml``.

A profile is the power model of one kind of board. The energy ledger prices
work with it (CPU seconds x ``per_core_w``, radio bytes x J/byte, the idle
baseline) and :func:`otswarm.energy.meters.discover_meter` reads which meter
the board has. Every number in a bundled profile cites its source in a comment;
docs/energy.md describes every key.

Units: watts (W), joules per byte (J/B), seconds (s).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from otswarm.energy.errors import ProfileError
from otswarm.tomlconfig import coerce, parse_toml, table_to_dataclass
from otswarm.tomlconfig import tomllib as tomllib  # re-exported for the profile tests' reader

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


@dataclass(frozen=True)
class _Board:
    id: str
    name: str
    cores: int


@dataclass(frozen=True)
class _Power:
    idle_w: float
    loaded_w: float
    per_core_w: float


@dataclass(frozen=True)
class _Radio:
    tx_j_per_byte: float
    rx_j_per_byte: float
    kind: str = "wifi"


@dataclass(frozen=True)
class _Serial:
    j_per_byte: float


_TABLES: dict[str, type] = {"board": _Board, "power": _Power, "radio": _Radio, "serial": _Serial}


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
    data = parse_toml(text, where, ProfileError)
    allowed = {*_TABLES, "meter"}
    for name in data:
        if name not in allowed:
            raise ProfileError(
                f"{where}: unknown key {name} (allowed: {', '.join(sorted(allowed))})"
            )
    tables = {}
    for name, cls in _TABLES.items():
        table = table_to_dataclass(cls, _table(data, name, where), f"{where}: {name}", ProfileError)
        for key, value in dataclasses.asdict(table).items():
            _check_value(value, f"{where}: {name}.{key}")
        tables[name] = table
    board, power, radio = tables["board"], tables["power"], tables["radio"]
    _check_power(power, where)
    return BoardProfile(
        id=board.id,
        name=board.name,
        cores=board.cores,
        idle_w=power.idle_w,
        loaded_w=power.loaded_w,
        per_core_w=power.per_core_w,
        radio_kind=radio.kind,
        radio_tx_j_per_byte=radio.tx_j_per_byte,
        radio_rx_j_per_byte=radio.rx_j_per_byte,
        serial_j_per_byte=tables["serial"].j_per_byte,
        meter=_meter_spec(_table(data, "meter", where), where),
        path=where,
    )


def _table(data: Mapping, name: str, where: str) -> Any:
    if name not in data:
        raise ProfileError(f"{where}: missing table [{name}]")
    return data[name]


def _check_value(value: Any, where: str) -> None:
    """Profile numbers are finite and >= 0, counts > 0, names not empty."""
    if isinstance(value, float) and (not math.isfinite(value) or value < 0):
        raise ProfileError(f"{where}: must be a finite number >= 0, got {value!r}")
    if isinstance(value, int) and value <= 0:
        raise ProfileError(f"{where}: must be > 0, got {value!r}")
    if isinstance(value, str) and not value.strip():
        raise ProfileError(f"{where}: must not be empty")


def _check_power(power: _Power, where: str) -> None:
    if power.idle_w <= 0:
        raise ProfileError(f"{where}: power.idle_w must be > 0, got {power.idle_w!r}")
    if power.loaded_w <= power.idle_w:
        raise ProfileError(
            f"{where}: power.loaded_w ({power.loaded_w!r}) must be greater than "
            f"power.idle_w ({power.idle_w!r})"
        )
    if power.per_core_w <= 0:
        raise ProfileError(f"{where}: power.per_core_w must be > 0")


def _meter_spec(section: Any, where: str) -> MeterSpec:
    if not isinstance(section, dict):
        raise ProfileError(f"{where}: meter: expected a table, got {type(section).__name__}")
    if "kind" not in section:
        raise ProfileError(f"{where}: meter.kind: missing required key 'kind'")
    kind = coerce(section["kind"], str, f"{where}: meter.kind", ProfileError)
    if kind not in METER_OPTIONS:
        raise ProfileError(
            f"{where}: meter.kind {kind!r} is not a meter (one of: {', '.join(METER_OPTIONS)})"
        )
    allowed = {"kind": str, "sample_period_s": float, **METER_OPTIONS[kind]}
    values = {}
    for key, value in section.items():
        if key not in allowed:
            raise ProfileError(
                f"{where}: meter.{key}: unknown key {key!r} for a {kind} meter "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
        values[key] = coerce(value, allowed[key], f"{where}: meter.{key}", ProfileError)
        _check_value(values[key], f"{where}: meter.{key}")
    period = values.pop("sample_period_s", None)
    if period is not None and period <= 0:
        raise ProfileError(f"{where}: meter.sample_period_s must be > 0")
    del values["kind"]
    return MeterSpec(kind=kind, sample_period_s=period, options=MappingProxyType(values))
