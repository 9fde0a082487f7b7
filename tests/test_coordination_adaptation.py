"""The drift-to-rate map: bounded, monotone, with hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.coordination.adaptation import AdaptationRate, RateMap
from otswarm.coordination.errors import CoordinationError


def test_target_is_bounded_and_monotone():
    rm = RateMap()
    zs = np.linspace(0, 20, 401)
    rates = np.array([rm.target(z) for z in zs])
    assert rates.min() == pytest.approx(rm.rate_min) and rates.max() == pytest.approx(rm.rate_max)
    assert np.all(np.diff(rates) >= 0)


def test_rate_follows_sustained_drift_and_comes_back():
    rate = AdaptationRate(RateMap())
    assert rate.update(10.0) == pytest.approx(rate.map.rate_max)
    assert rate.replan_period == rate.map.period_min
    assert rate.update(0.0) == pytest.approx(rate.map.rate_min)
    assert rate.replan_period == rate.map.period_max


def test_noise_narrower_than_the_hysteresis_band_does_not_move_the_rate():
    rate = AdaptationRate(RateMap(hysteresis=0.3))
    settled = rate.update(1.79)  # the top of the noise below: the band is 2 h = 0.6 wide
    rng = np.random.default_rng(0)
    for z in 1.5 + rng.uniform(-0.29, 0.29, 200):
        assert rate.update(z) == settled


@pytest.mark.parametrize(
    "kwargs", [{"rate_min": 0.0}, {"rate_max": 1.5}, {"z_low": 3, "z_high": 1}, {"period_min": 0}]
)
def test_bad_maps_raise(kwargs):
    with pytest.raises(CoordinationError):
        RateMap(**kwargs)


def test_negative_drift_is_refused():
    with pytest.raises(CoordinationError):
        AdaptationRate().update(-1.0)
