"""Pick the meter a board profile names, or the best one this board has."""

from __future__ import annotations

import logging
from pathlib import Path

from runtime.energy.errors import MeterError, ProfileError
from runtime.energy.meters.base import PowerMeter
from runtime.energy.meters.model import ModelMeter
from runtime.energy.profile import BoardProfile

log = logging.getLogger(__name__)


def open_meter(profile: BoardProfile, kind: str, root: str | Path = "/") -> PowerMeter:
    """Open the meter of ``kind`` with the options of ``profile.meter``; raises
    :class:`MeterError` (or a subclass) when this board does not have it."""
    options = dict(profile.meter.options) if profile.meter.kind == kind else {}
    period = profile.meter.sample_period_s
    root = options.pop("root", root)
    if kind == "model":
        return ModelMeter(profile, root, sample_period_s=period or 0.1)
    raise ProfileError(f"meter kind {kind!r} cannot be opened by this version")


def discover_meter(
    profile: BoardProfile, root: str | Path = "/", *, strict: bool = False
) -> PowerMeter:
    """The meter ``profile.meter.kind`` names, or for ``"auto"`` the first that
    works of: the model. When the named meter is missing, log a warning and fall
    back to the model estimate, or raise with ``strict=True``."""
    kind = profile.meter.kind
    candidates = [kind] if kind != "auto" else []
    for candidate in candidates:
        try:
            return open_meter(profile, candidate, root)
        except MeterError as exc:
            if strict:
                raise
            log.warning("meter %s unavailable (%s); using the model estimate", candidate, exc)
    return open_meter(profile, "model", root)
