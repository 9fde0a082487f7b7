"""Pick the meter a board profile names, or the best one this board has."""

from __future__ import annotations

import logging
from pathlib import Path

from otswarm.energy.errors import MeterError, MeterPermissionError
from otswarm.energy.meters.base import PowerMeter
from otswarm.energy.meters.hwmon_ina2xx import HwmonIna2xxMeter
from otswarm.energy.meters.ina_i2c import InaI2CMeter
from otswarm.energy.meters.jetson_ina3221 import JetsonIna3221Meter
from otswarm.energy.meters.model import ModelMeter
from otswarm.energy.meters.pi5_pmic import Pi5PmicMeter
from otswarm.energy.meters.rapl import RaplMeter
from otswarm.energy.meters.telemetry import TelemetryMeter
from otswarm.energy.profile import BoardProfile

log = logging.getLogger(__name__)

# "auto" tries these in order (I2C chips are probed only when named: probing a bus
# can disturb other devices); the model estimate always works last.
AUTO_ORDER = ("ina3221", "pi5_pmic", "ina2xx_hwmon", "rapl")


def open_meter(profile: BoardProfile, kind: str, root: str | Path = "/") -> PowerMeter:
    """Open the meter of ``kind``, with the options of ``profile.meter`` when the
    profile names that kind. Raises :class:`MeterError` (or a subclass) when this
    board does not have it. ``root`` prefixes every sysfs/procfs path."""
    spec = profile.meter
    options = dict(spec.options) if spec.kind == kind else {}
    root = options.pop("root", root)
    period = {"sample_period_s": spec.sample_period_s} if spec.sample_period_s else {}
    if kind == "model":
        return ModelMeter(profile, root, **period)
    if kind == "rapl":
        return RaplMeter(root, **period)
    if kind in ("ina219", "ina226"):
        return InaI2CMeter(kind, **options, **period)
    if kind == "ina2xx_hwmon":
        return HwmonIna2xxMeter(root, **period)
    if kind == "ina3221":
        return JetsonIna3221Meter(root, **period)
    if kind == "pi5_pmic":
        if Path(root) != Path("/"):
            raise MeterError("pi5_pmic reads the live PMIC through vcgencmd, not a root path")
        return Pi5PmicMeter(**options, **period)
    if kind == "telemetry":
        return TelemetryMeter(**options, **period)
    raise MeterError(f"unknown meter kind {kind!r}")


def discover_meter(
    profile: BoardProfile, root: str | Path = "/", *, strict: bool = False
) -> PowerMeter:
    """The meter ``profile.meter.kind`` names; for ``"auto"`` the first of
    :data:`AUTO_ORDER` this board has; the model estimate when nothing is
    measurable. A named meter that is missing or unreadable is logged and
    replaced by the model, or raised with ``strict=True``."""
    kind = profile.meter.kind
    for candidate in AUTO_ORDER if kind == "auto" else (kind,):
        if candidate == "model":
            break
        try:
            meter = open_meter(profile, candidate, root)
        except MeterError as exc:
            if strict and kind != "auto":
                raise
            quiet = kind == "auto" and not isinstance(exc, MeterPermissionError)
            log.log(
                logging.DEBUG if quiet else logging.WARNING,
                "meter %s unavailable: %s",
                candidate,
                exc,
            )
            continue
        log.info("energy meter: %s", meter.source)
        return meter
    return open_meter(profile, "model", root)
