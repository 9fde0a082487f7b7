"""From drift to adaptation rate: a bounded, monotone map with hysteresis.

The drift monitor reports a normalised drift ``z = W / tau`` (the Wasserstein
distance between the recent and the reference window over the no-change
threshold ``tau``, so ``z >= 1`` is a detection). The target rate is a clipped
ramp, bounded in ``[rate_min, rate_max]`` and non-decreasing in ``z``:

    f(z) = rate_min + (rate_max - rate_min) * clip((z - z_low) / (z_high - z_low), 0, 1)

Hysteresis is the *play* (backlash) operator of half-width ``h``: the rate moves
only when ``z`` leaves the band around it,

    rate_t = clip(rate_{t-1}, f(z_t - h), f(z_t + h)),

so noise of amplitude below ``h`` around a level does not make the rate chatter.
The rate drives two things: the alignment step ``eta = rate`` and the
re-planning period, which shrinks linearly from ``period_max`` (calm) to
``period_min`` rounds (fast drift).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from otswarm.coordination.errors import CoordinationError


@dataclass(frozen=True)
class RateMap:
    """Parameters of the drift-to-rate map (rates are dimensionless, periods in rounds)."""

    rate_min: float = 0.2
    rate_max: float = 0.9
    z_low: float = 0.5
    z_high: float = 3.0
    hysteresis: float = 0.3
    period_min: int = 1
    period_max: int = 8

    def __post_init__(self):
        if not 0.0 < self.rate_min <= self.rate_max <= 1.0:
            raise CoordinationError(
                f"need 0 < rate_min <= rate_max <= 1, got {self.rate_min}, {self.rate_max}"
            )
        if not self.z_low < self.z_high or self.hysteresis < 0:
            raise CoordinationError(
                f"need z_low < z_high and hysteresis >= 0, got {self.z_low}, {self.z_high}, "
                f"{self.hysteresis}"
            )
        if not 1 <= self.period_min <= self.period_max:
            raise CoordinationError(
                f"need 1 <= period_min <= period_max, got {self.period_min}, {self.period_max}"
            )

    def target(self, z: float) -> float:
        """The ramp ``f(z)``: bounded, non-decreasing."""
        ramp = np.clip((z - self.z_low) / (self.z_high - self.z_low), 0.0, 1.0)
        return float(self.rate_min + (self.rate_max - self.rate_min) * ramp)

    def replan_period(self, rate: float) -> int:
        """Rounds between plans: ``period_max`` at ``rate_min`` down to ``period_min`` at max."""
        span = self.rate_max - self.rate_min
        frac = 1.0 if span == 0 else (rate - self.rate_min) / span
        return round(self.period_max - (self.period_max - self.period_min) * frac)


class AdaptationRate:
    """The play operator on top of :class:`RateMap`; starts at ``rate_min``."""

    def __init__(self, rate_map: RateMap | None = None):
        self.map = rate_map or RateMap()
        self.rate = self.map.rate_min

    def update(self, z: float) -> float:
        """Feed one normalised drift reading; returns the new rate."""
        if not np.isfinite(z) or z < 0:
            raise CoordinationError(f"normalised drift must be finite and >= 0, got {z}")
        h = self.map.hysteresis
        self.rate = float(np.clip(self.rate, self.map.target(z - h), self.map.target(z + h)))
        return self.rate

    @property
    def alignment_step(self) -> float:
        """Step ``eta`` of the consensus move (equal to the rate)."""
        return self.rate

    @property
    def replan_period(self) -> int:
        """Rounds between allocation plans at the current rate."""
        return self.map.replan_period(self.rate)
