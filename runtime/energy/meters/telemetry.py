"""A meter fed by telemetry pushed from elsewhere (the MCU behind the firmware bridge).

The bridge (or anything else) calls :meth:`TelemetryMeter.push` with each power
reading it receives; the ledger reads the meter like any other. Energy is
integrated over the pushed readings with the trapezoid rule, on their own
timestamps: E += (P_prev + P) / 2 * (t - t_prev). Thread-safe: push from the
bridge's thread, read from the ledger's.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

from otswarm.energy.errors import MeterError, MeterStaleError
from otswarm.energy.meters.base import Clock, PowerMeter, PowerSample


class TelemetryMeter(PowerMeter):
    """Latest pushed power; stale after ``stale_after_s`` without a push."""

    def __init__(
        self,
        *,
        source: str = "telemetry",
        stale_after_s: float = 5.0,
        sample_period_s: float = 0.1,
        clock: Clock = time.time,
    ) -> None:
        self.source = source
        self.stale_after_s = stale_after_s
        self.sample_period_s = sample_period_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[float, float] | None = None
        self._joules = 0.0

    def push(self, t: float, watts: float) -> None:
        """A power reading: ``watts`` (W, finite, >= 0) at time ``t`` (s, Unix time,
        not before the previous push)."""
        if not (math.isfinite(watts) and watts >= 0 and math.isfinite(t)):
            raise MeterError(f"{self.source}: bad reading t={t!r} watts={watts!r}")
        with self._lock:
            if self._last is not None:
                t_prev, w_prev = self._last
                if t < t_prev:
                    raise MeterError(f"{self.source}: reading at {t} is older than {t_prev}")
                self._joules += 0.5 * (w_prev + watts) * (t - t_prev)
            self._last = (t, watts)

    def push_record(self, record: Mapping[str, Any] | Any) -> None:
        """Push a telemetry record: a mapping or an object (e.g. the bridge's
        ``Telemetry`` namedtuple) with power as ``watts`` or ``power_w``, or as
        ``volts``/``bus_voltage_v`` times ``amps``/``current_a``; its time is ``t``
        (Unix s) when it has one, else the time it arrives (MCU clocks such as
        ``mcu_time_ms`` are not wall time and are ignored)."""

        def get(*names: str) -> Any:
            for name in names:
                value = (
                    record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)
                )
                if value is not None:
                    return value
            return None

        watts = get("watts", "power_w")
        volts, amps = get("volts", "bus_voltage_v"), get("amps", "current_a")
        if watts is None and volts is not None and amps is not None:
            watts = float(volts) * float(amps)
        if watts is None:
            raise MeterError(
                f"{self.source}: record has no power (watts or volts and amps): {record!r}"
            )
        t = get("t")
        self.push(self._clock() if t is None else float(t), float(watts))

    def read(self) -> PowerSample:
        with self._lock:
            last, joules = self._last, self._joules
        if last is None:
            raise MeterStaleError(f"{self.source}: no telemetry received yet")
        age = self._clock() - last[0]
        if age > self.stale_after_s:
            raise MeterStaleError(
                f"{self.source}: last reading is {age:.1f} s old (limit {self.stale_after_s} s)"
            )
        return PowerSample(last[0], last[1], joules, self.source)
