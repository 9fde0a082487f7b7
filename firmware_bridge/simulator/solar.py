"""A solar harvester: clear-sky day/night profile times seeded clouds."""

import math
import random

from .config import SimulatorConfig


class SolarHarvester:
    """Harvested power as a function of board time.

    ``P(t) = peak · sin(π · (tod − sunrise) / (sunset − sunrise)) · cloud(t) · drop(t)``
    during daylight and 0 at night, with ``tod`` the time of day. ``cloud(t)`` is
    value noise: an independent factor ``1 − cloudiness · u²`` (``u`` uniform in
    0..1, drawn from ``(seed, k)``) at each knot ``k · cloud_scale_s``, linearly
    interpolated, so the same seed gives the same sky whatever the sampling.
    ``drop(t)`` is ``harvest_drop_factor`` from ``harvest_drop_at_s`` on (when
    that is >= 0), 1 before: the scripted change that shows up as drift.
    """

    def __init__(self, config: SimulatorConfig):
        self.config = config

    def _cloud_knot(self, k: int) -> float:
        u = random.Random(self.config.seed * 1_000_003 + k).random()
        return 1.0 - self.config.cloudiness * u * u

    def cloud_factor(self, t_s: float) -> float:
        """Cloud attenuation at board time ``t_s``, in (1 − cloudiness)..1."""
        x = t_s / self.config.cloud_scale_s
        k = math.floor(x)
        frac = x - k
        return (1.0 - frac) * self._cloud_knot(k) + frac * self._cloud_knot(k + 1)

    def clear_sky_w(self, t_s: float) -> float:
        """Clear-sky panel output at board time ``t_s``, W."""
        c = self.config
        tod = (c.start_time_of_day_s + t_s) % c.day_length_s
        if not c.sunrise_s < tod < c.sunset_s:
            return 0.0
        return c.solar_peak_w * math.sin(math.pi * (tod - c.sunrise_s) / (c.sunset_s - c.sunrise_s))

    def power_w(self, t_s: float) -> float:
        """Harvested power at board time ``t_s``, W."""
        c = self.config
        power = self.clear_sky_w(t_s) * self.cloud_factor(t_s)
        if 0.0 <= c.harvest_drop_at_s <= t_s:
            power *= c.harvest_drop_factor
        return power
