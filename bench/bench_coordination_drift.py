"""Drift monitor: detection delay of a harvest drop, false alarms, cost per observation.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/bench_coordination_drift.py

Harvested power: 5 W plus N(0, 0.4 W) noise; at a random instant it drops by
0.25, 0.5, 1 or 2 W. Windows of 32 samples, 4 reference windows, designed false
alarm rate 1 % per window. Reports, over 40 streams per drop size, the fraction
detected and the delay in windows (from the change to the stale-policy event);
false alarms per window over 40 stationary streams of 100 windows; CPU time
per observation (us) and per null calibration (ms).
"""

from __future__ import annotations

import json
import time

import numpy as np
from coordination_common import machine

from otswarm.coordination import DriftMonitor

WINDOW, STREAMS, NOISE_W = 32, 40, 0.4


def first_stale(monitor, stream):
    for value in stream:
        reading = monitor.observe(value)
        if reading is not None and reading.stale:
            return reading.window
    return None


def detection(drop_w: float) -> dict:
    delays, missed = [], 0
    for seed in range(STREAMS):
        rng = np.random.default_rng(seed)
        change = int(rng.integers(6 * WINDOW, 8 * WINDOW))
        stream = 5.0 + NOISE_W * rng.standard_normal(change + 10 * WINDOW)
        stream[change:] -= drop_w
        window = first_stale(DriftMonitor(window=WINDOW, seed=seed), stream)
        if window is None or window * WINDOW <= change:  # none, or a false alarm first
            missed += 1
        else:
            delays.append(window - change / WINDOW)
    return {
        "drop_w": drop_w,
        "drop_over_noise_sd": drop_w / NOISE_W,
        "detected_without_earlier_false_alarm": round(1 - missed / STREAMS, 3),
        "delay_windows_median": round(float(np.median(delays)), 2) if delays else None,
        "delay_windows_max": round(float(np.max(delays)), 2) if delays else None,
    }


def false_alarms() -> dict:
    alarms = windows = 0
    cpu = time.process_time()
    for seed in range(STREAMS):
        rng = np.random.default_rng(1000 + seed)
        monitor = DriftMonitor(window=WINDOW, seed=seed)
        for value in 5.0 + NOISE_W * rng.standard_normal(100 * WINDOW):
            reading = monitor.observe(value)
            if reading is not None:
                windows += 1
                alarms += reading.stale
    per_obs_us = 1e6 * (time.process_time() - cpu) / (STREAMS * 100 * WINDOW)
    return {
        "windows": windows,
        "alarms": alarms,
        "rate_per_window": round(alarms / windows, 4),
        "designed_rate": 0.01,
        "cpu_us_per_observation_incl_calibration": round(per_obs_us, 2),
    }


def calibration_ms() -> float:
    """CPU time of the observation that closes the reference pool (it runs the null)."""
    costs = []
    for seed in range(6):
        monitor = DriftMonitor(window=WINDOW, seed=seed)
        stream = 5.0 + NOISE_W * np.random.default_rng(seed).standard_normal(4 * WINDOW)
        for value in stream[:-1]:
            monitor.observe(value)
        start = time.process_time()
        monitor.observe(stream[-1])
        costs.append(time.process_time() - start)
    return round(1e3 * float(np.median(costs[1:])), 2)  # the first one compiles


def main() -> None:
    print(json.dumps({"window": WINDOW, "streams": STREAMS, "noise_sd_w": NOISE_W,
                      "machine": machine(), "false_alarms": false_alarms(),
                      "detection": [detection(d) for d in (0.25, 0.5, 1.0, 2.0)],
                      "calibration_cpu_ms": calibration_ms()}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
