"""Drift monitor: Wasserstein distance between a recent and a reference window.

Observations arrive one by one (scalars, e.g. harvested power in W, or vectors,
e.g. a whole observation). They are cut into consecutive windows of ``window``
samples. The first ``calibration_windows`` windows form the *reference pool*;
each later window is compared with the pool:

    d = W_1(recent, pool)                  scalars (closed form, :func:`w1_of_samples`)
    d = SW_1(recent, pool)                 vectors (``sliced_wasserstein``, fixed seed)

The scalar distance is a few NumPy calls on samples of tens of values, so a
monitor of scalars (the agent's: the harvested power) never loads Numba and its
compiler (about 120 MB of a board's memory, docs/performance.md); vectors use
the compiled sliced distance of :mod:`otswarm.ot`.

The no-change threshold ``tau`` is the ``1 - false_alarm_rate`` quantile of the
same distance under no change, estimated once per pool by permutation: ``w``
random samples of the pool against the other ``(K - 1) w``. So on a stationary
stream (weakly dependent samples) a window exceeds ``tau`` with probability about
``false_alarm_rate``. The normalised drift ``z = d / tau`` feeds the
:class:`~otswarm.coordination.adaptation.AdaptationRate`; ``z >= 1`` raises the
stale-policy event, after which the pool is rebuilt from the windows that follow
(the window that straddles the change is dropped). A step of the mean by
``Delta`` moves ``d`` by about ``Delta``: once ``Delta`` is about twice ``tau``,
the first window lying wholly after the change detects it, i.e. within two
windows (bench/bench_coordination_drift.py measures the delays).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from otswarm.coordination.adaptation import AdaptationRate
from otswarm.coordination.errors import CoordinationError

log = logging.getLogger(__name__)


def w1_of_samples(x: np.ndarray, y: np.ndarray) -> float:
    """``W_1`` between the empirical measures of samples ``x`` ``(n,)`` and ``y`` ``(m,)``
    (uniform weights): on the line it is the L1 distance of the two CDFs,

        W_1 = int |F(t) - G(t)| dt = sum_k |F(t_k) - G(t_k)| (t_{k+1} - t_k)

    over the merged sorted samples ``t`` (``F``, ``G`` are constant between them).
    Equal to ``otswarm.ot.wasserstein_1d(x, y, p=1)`` (tests/test_coordination_drift.py).
    """
    xs, ys = np.sort(x), np.sort(y)
    t = np.sort(np.concatenate((xs, ys)))
    cdf_x = np.searchsorted(xs, t[:-1], side="right") / xs.size
    cdf_y = np.searchsorted(ys, t[:-1], side="right") / ys.size
    return float(np.abs(cdf_x - cdf_y) @ np.diff(t))


@dataclass(frozen=True)
class DriftReading:
    """What one closed window says (distances in the observation's units)."""

    window: int
    distance: float
    threshold: float
    z: float
    rate: float
    stale: bool


class DriftMonitor:
    """Per-agent drift monitor; feed it with :meth:`observe`."""

    def __init__(
        self,
        window: int = 32,
        calibration_windows: int = 4,
        false_alarm_rate: float = 0.01,
        n_null: int = 300,
        n_projections: int = 32,
        adaptation: AdaptationRate | None = None,
        seed: int = 0,
    ):
        if window < 4 or calibration_windows < 2:
            raise CoordinationError(
                f"need window >= 4 and calibration_windows >= 2, got {window}, "
                f"{calibration_windows}"
            )
        if not 0.0 < false_alarm_rate < 0.5:
            raise CoordinationError(f"false_alarm_rate must be in (0, 0.5), got {false_alarm_rate}")
        self.window = window
        self.calibration_windows = calibration_windows
        self.false_alarm_rate = false_alarm_rate
        self.n_null = n_null
        self.n_projections = n_projections
        self.adaptation = adaptation or AdaptationRate()
        self._rng = np.random.default_rng(seed)
        self._seed = seed
        self._buffer: list[np.ndarray] = []
        self._pool: list[np.ndarray] = []
        self._threshold: float | None = None
        self._dim: int | None = None
        self.windows_seen = 0
        self.stale_events = 0

    @property
    def rate(self) -> float:
        """Current adaptation rate (see :class:`AdaptationRate`)."""
        return self.adaptation.rate

    def observe(self, value) -> DriftReading | None:
        """Add one observation; returns a reading when it closes a compared window."""
        obs = np.atleast_1d(np.asarray(value, dtype=float))
        if obs.ndim != 1 or not np.all(np.isfinite(obs)):
            raise CoordinationError(f"observation must be a finite scalar or 1-D vector: {value}")
        if self._dim is None:
            self._dim = obs.size
        elif obs.size != self._dim:
            raise CoordinationError(f"observation has {obs.size} values, expected {self._dim}")
        self._buffer.append(obs)
        if len(self._buffer) < self.window:
            return None
        recent = np.vstack(self._buffer)
        self._buffer = []
        self.windows_seen += 1
        if self._threshold is None:
            self._pool.append(recent)
            if len(self._pool) == self.calibration_windows:
                self._threshold = self._null_quantile(np.vstack(self._pool))
            return None
        return self._compare(recent)

    def _compare(self, recent: np.ndarray) -> DriftReading:
        pool = np.vstack(self._pool)
        distance = self._distance(recent, pool)
        z = distance / self._threshold
        rate = self.adaptation.update(z)
        stale = z >= 1.0
        reading = DriftReading(self.windows_seen, distance, self._threshold, z, rate, stale)
        if stale:
            self.stale_events += 1
            log.info(
                "drift: stale policy at window %d (W=%.4g > tau=%.4g)",
                self.windows_seen,
                distance,
                self._threshold,
            )
            self._pool, self._threshold = [], None
        return reading

    def _distance(self, x: np.ndarray, y: np.ndarray) -> float:
        if x.shape[1] == 1:
            return w1_of_samples(x[:, 0], y[:, 0])
        from otswarm.ot import sliced_wasserstein  # Numba, for vector observations only

        return float(sliced_wasserstein(x, y, n_projections=self.n_projections, seed=self._seed))

    def _null_quantile(self, pool: np.ndarray) -> float:
        """``1 - false_alarm_rate`` quantile of the window-vs-pool distance under no change."""
        draws = np.empty(self.n_null)
        for b in range(self.n_null):
            order = self._rng.permutation(pool.shape[0])
            draws[b] = self._distance(pool[order[: self.window]], pool[order[self.window :]])
        tau = float(np.quantile(draws, 1.0 - self.false_alarm_rate))
        return max(tau, 1e-12)
