"""Model-based power estimate from the board profile and CPU utilisation.

When nothing on the board measures power, estimate it:

    P = idle_w + (loaded_w - idle_w) * u,

with u in [0, 1] the share of non-idle CPU time over the last interval, from the
aggregate ``cpu`` line of ``/proc/stat`` (jiffies): busy = user + nice + system +
irq + softirq + steal, total = busy + idle + iowait (guest time is already
counted in user and nice, see proc(5)). The first reading uses the counters
since boot.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from otswarm.energy.errors import MeterError
from otswarm.energy.meters.base import Clock, PowerReadingMeter
from otswarm.energy.profile import BoardProfile

_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal
_IDLE_FIELDS = (3, 4)  # idle iowait


def read_cpu_jiffies(proc_stat: Path) -> tuple[int, int]:
    """(busy, total) jiffies from the aggregate ``cpu`` line of a /proc/stat file."""
    try:
        with open(proc_stat, encoding="ascii") as f:
            line = f.readline()
    except OSError as exc:
        raise MeterError(f"{proc_stat}: cannot read CPU counters: {exc.strerror}") from exc
    parts = line.split()
    if len(parts) < 9 or parts[0] != "cpu":
        raise MeterError(f"{proc_stat}: first line is not an aggregate 'cpu' line: {line!r}")
    try:
        values = [int(v) for v in parts[1:9]]
    except ValueError as exc:
        raise MeterError(f"{proc_stat}: non-integer CPU counter in {line!r}") from exc
    busy = sum(values[i] for i in _BUSY_FIELDS)
    return busy, busy + sum(values[i] for i in _IDLE_FIELDS)


class ModelMeter(PowerReadingMeter):
    """Estimated board power from ``profile`` and ``<root>/proc/stat``."""

    def __init__(
        self,
        profile: BoardProfile,
        root: str | Path = "/",
        *,
        sample_period_s: float = 0.1,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(clock)
        self.profile = profile
        self.proc_stat = Path(root) / "proc" / "stat"
        self.sample_period_s = sample_period_s
        self.source = f"model:{profile.id}"
        self._prev = (0, 0)
        self.utilisation = 0.0
        read_cpu_jiffies(self.proc_stat)  # fail now, not at the first sample

    def read_power(self) -> tuple[float, Mapping[str, float]]:
        busy, total = read_cpu_jiffies(self.proc_stat)
        d_busy, d_total = busy - self._prev[0], total - self._prev[1]
        if d_total > 0:
            self.utilisation = min(1.0, max(0.0, d_busy / d_total))
        self._prev = (busy, total)
        p = self.profile
        return p.idle_w + (p.loaded_w - p.idle_w) * self.utilisation, {}
