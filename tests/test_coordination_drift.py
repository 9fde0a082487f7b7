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


@pytest.mark.parametrize("seed", range(6))
def test_the_scalar_distance_is_the_exact_w1_of_the_ot_kernel_and_of_pot(seed):
    """Against ``otswarm.ot.wasserstein_1d`` and POT's, relative 1e-12: unequal sizes,
    repeated values (ties inside and across the samples) and a constant sample."""
    import ot as pot

    from otswarm.coordination.drift import w1_of_samples
    from otswarm.ot import wasserstein_1d

    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 200, size=2)
    x = rng.normal(size=n) * 10.0 ** rng.uniform(-3, 3)
    y = rng.standard_t(3, size=m) + rng.uniform(-1, 1)
    if seed % 2:  # ties: values on a coarse grid, shared by both samples
        x, y = np.round(x, 1), np.round(y, 1)
    if seed == 4:
        x = np.full(n, 0.5)
    got = w1_of_samples(x, y)
    assert got == pytest.approx(wasserstein_1d(x, y, p=1), rel=1e-12, abs=1e-15)
    assert got == pytest.approx(pot.wasserstein_1d(x, y, p=1), rel=1e-12, abs=1e-15)
    assert w1_of_samples(x, x) == 0.0 and w1_of_samples(y, x) == pytest.approx(got, rel=1e-12)


def test_a_monitor_of_scalars_never_loads_numba():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import numpy as np\n"
        "from otswarm.coordination.drift import DriftMonitor\n"
        "monitor = DriftMonitor(window=8, calibration_windows=2, n_null=20)\n"
        "rng = np.random.default_rng(0)\n"
        "stream = np.r_[rng.normal(size=40), rng.normal(3, 1, 16)]\n"
        "readings = [monitor.observe(v) for v in stream]\n"
        "assert monitor.stale_events >= 1, readings\n"
        "print('numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)  # fmt: skip
    assert out.stdout.split() == ["False"]
