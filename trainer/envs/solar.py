"""Synthetic solar harvest traces: a clear-sky day curve times a weather state.

Power of a panel with peak ``P_peak`` [W] at hour ``h`` of a day with sunrise
``r`` and sunset ``s`` [h]:

    P(h) = P_peak * w(day) * max(0, sin(pi (h - r) / (s - r))) * (1 + e),  e ~ N(0, noise^2)

``w(day)`` is the daily weather factor of a three-state Markov chain (clear,
partly cloudy, overcast), the usual stand-in for measured traces in duty-cycling
work (Kansal et al. 2007, "Power management in energy harvesting sensor networks";
Fraternali et al. 2020, "ACES", ACM TOSN). Weather is shared by the swarm (the
boards stand close together); the noise ``e`` is per panel.
"""

from __future__ import annotations

import numpy as np

WEATHER_FACTOR = np.array([1.0, 0.55, 0.2])  # clear, partly cloudy, overcast
WEATHER_TRANSITION = np.array(  # row: today's state -> tomorrow's distribution
    [
        [0.70, 0.20, 0.10],
        [0.35, 0.40, 0.25],
        [0.25, 0.40, 0.35],
    ]
)


def weather_days(rng: np.random.Generator, n_swarms: int, n_days: int) -> np.ndarray:
    """Daily weather factors, shape (n_swarms, n_days), first day from the stationary mix."""
    state = rng.choice(3, size=n_swarms, p=[0.5, 0.3, 0.2])
    factors = np.empty((n_swarms, n_days))
    for day in range(n_days):
        factors[:, day] = WEATHER_FACTOR[state]
        u = rng.random(n_swarms)[:, None]
        state = (u > np.cumsum(WEATHER_TRANSITION[state], axis=1)).sum(axis=1)
    return factors


def clear_sky_fraction(hour: np.ndarray, sunrise: np.ndarray, sunset: np.ndarray) -> np.ndarray:
    """``max(0, sin(pi (h - r) / (s - r)))`` between sunrise and sunset, 0 at night."""
    phase = (np.mod(hour, 24.0) - sunrise) / (sunset - sunrise)
    return np.where((phase > 0) & (phase < 1), np.sin(np.pi * np.clip(phase, 0, 1)), 0.0)
