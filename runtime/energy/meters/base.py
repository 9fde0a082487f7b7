"""The one meter interface: :class:`PowerMeter` returns :class:`PowerSample` s.

Boards measure energy in one of two ways, and each has a base class here:

- a *power* reading (INA219/226/3221, the Pi 5 PMIC): P(t) in W, integrated to
  energy with the trapezoid rule, E += (P_prev + P) / 2 * dt;
- an *energy counter* (RAPL): E(t) in J, differentiated to mean power over the
  last interval, P = dE / dt.

Either way a sample carries both, so callers never care which kind it is.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

Clock = Callable[[], float]


@dataclass(frozen=True)
class PowerSample:
    """One meter reading.

    ``t``: wall-clock time of the reading (s, Unix epoch, from the meter's clock);
    ``watts``: power at ``t`` (power readers) or mean power since the previous
    reading (energy counters), W; ``joules``: energy since the meter was created, J;
    ``source``: which meter, e.g. ``"rapl:package-0+dram"``; ``rails``: per-rail
    power in W where the meter has rails (the total is ``watts``, never their sum
    when a rail contains the others).
    """

    t: float
    watts: float
    joules: float
    source: str
    rails: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


class PowerMeter(ABC):
    """A source of :class:`PowerSample`. ``sample_period_s`` is how often reading
    it is useful (the sensor's update interval, or what its cost allows)."""

    source: str = "meter"
    sample_period_s: float = 0.1

    @abstractmethod
    def read(self) -> PowerSample:
        """Take one reading; raises :class:`~otswarm.energy.errors.MeterError`."""

    def close(self) -> None:  # noqa: B027 - an optional hook: most meters hold nothing open
        """Release the sensor (bus, file handles); idempotent."""

    def __enter__(self) -> PowerMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PowerReadingMeter(PowerMeter):
    """Base of meters that read instantaneous power; integrates it to joules."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._joules = 0.0
        self._last: tuple[float, float] | None = None

    @abstractmethod
    def read_power(self) -> tuple[float, Mapping[str, float]]:
        """Board power in W now, and per-rail power in W (may be empty)."""

    def read(self) -> PowerSample:
        watts, rails = self.read_power()
        t = self._clock()
        if self._last is not None:
            t_prev, w_prev = self._last
            self._joules += 0.5 * (w_prev + watts) * max(0.0, t - t_prev)
        self._last = (t, watts)
        return PowerSample(t, watts, self._joules, self.source, MappingProxyType(dict(rails)))


class EnergyCounterMeter(PowerMeter):
    """Base of meters that read a cumulative energy counter; derives mean power.

    The first reading happens when the meter is created, so the first
    :meth:`read` already gives the mean power since then.
    """

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._t0 = self._clock()
        self._e0 = self.read_energy()
        self._last = (self._t0, 0.0)
        self._watts = 0.0

    @abstractmethod
    def read_energy(self) -> float:
        """Cumulative energy in J, unwrapped, from any fixed origin."""

    def read(self) -> PowerSample:
        joules = self.read_energy() - self._e0
        t = self._clock()
        t_prev, e_prev = self._last
        if t > t_prev:
            self._watts = (joules - e_prev) / (t - t_prev)
        self._last = (t, joules)
        return PowerSample(t, self._watts, joules, self.source)
