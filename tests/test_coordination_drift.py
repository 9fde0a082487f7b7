"""Drift monitor: a scripted harvest drop is detected fast, a stationary stream is quiet."""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.coordination.drift import DriftMonitor
from otswarm.coordination.errors import CoordinationError

WINDOW = 32
ALPHA = 0.01  # designed false-alarm rate per window


def _harvest(rng, n, mean_w):
    """Harvested power (W): a level plus noise, like a panel under passing clouds."""
    return mean_w + 0.4 * rng.standard_normal(n)


def _run(monitor, stream):
    readings = []
    for value in stream:
        reading = monitor.observe(value)
        if reading is not None:
            readings.append(reading)
    return readings


def test_a_harvest_drop_is_detected_within_two_windows():
    rng = np.random.default_rng(7)
    monitor = DriftMonitor(window=WINDOW, false_alarm_rate=ALPHA, seed=1)
    change_at = 10 * WINDOW + 11  # mid-window: the straddling window may or may not fire
    stream = np.concatenate([_harvest(rng, change_at, 5.0), _harvest(rng, 6 * WINDOW, 3.5)])
    readings = _run(monitor, stream)
    first_stale = next(r for r in readings if r.stale)
    windows_after = first_stale.window - change_at / WINDOW
    assert 0 < windows_after <= 2
    assert first_stale.rate > monitor.adaptation.map.rate_min
    assert not any(r.stale for r in readings if r.window * WINDOW <= change_at)


def test_stationary_stream_raises_no_more_than_the_stated_rate():
    rng = np.random.default_rng(8)
    monitor = DriftMonitor(window=WINDOW, false_alarm_rate=ALPHA, seed=2)
    readings = _run(monitor, _harvest(rng, 400 * WINDOW, 5.0))
    alarms = sum(r.stale for r in readings)
    # expected ALPHA * 396 ~ 4; binomial 99.9% bound ~ 11, plus the null quantile's own
    # estimation error from a 4-window pool: allow 3x the stated rate
    assert alarms <= 3 * ALPHA * len(readings)
    assert monitor.rate < 0.5  # no sustained drift, the rate stays near its floor


def test_vectors_use_sliced_wasserstein_and_see_a_shift():
    rng = np.random.default_rng(9)
    monitor = DriftMonitor(window=WINDOW, calibration_windows=3, n_null=60, seed=3)
    before = rng.standard_normal((5 * WINDOW, 3))
    after = rng.standard_normal((2 * WINDOW, 3)) + np.array([2.0, 0.0, -1.0])
    readings = _run(monitor, np.vstack([before, after]))
    assert not any(r.stale for r in readings if r.window <= 5)
    assert any(r.stale for r in readings if r.window > 5)


def test_bad_observations_raise():
    monitor = DriftMonitor(window=8)
    monitor.observe([1.0, 2.0])
    with pytest.raises(CoordinationError):
        monitor.observe([1.0, 2.0, 3.0])
    with pytest.raises(CoordinationError):
        monitor.observe(float("nan"))
    with pytest.raises(CoordinationError):
        DriftMonitor(window=2)


def test_drift_drives_the_alignment_step_and_the_replanning_period():
    from otswarm.coordination.exchange import AlignmentExchange
    from otswarm.link import InProcessBus

    link = InProcessBus("drift").link("d0", track_members=False)
    coord = AlignmentExchange(link, [0.0, 0.5, 1.0], drift=DriftMonitor(window=WINDOW, seed=4))
    coord.start()
    link.start()
    rng = np.random.default_rng(10)
    coord.align([0.2, 0.3, 0.5])
    calm_step, calm_period = coord.step, coord.replan_period
    stale = []
    for value in np.concatenate([_harvest(rng, 8 * WINDOW, 5.0), _harvest(rng, WINDOW, 2.0)]):
        reading = coord.observe(value)
        if reading is not None and reading.stale:
            stale.append(reading)
    assert stale  # the drop raised the stale-policy event
    assert coord.step > calm_step and coord.replan_period < calm_period
