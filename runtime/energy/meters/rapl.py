"""Linux powercap / Intel RAPL energy counters (``/sys/class/powercap/intel-rapl:*``).

Which zones are summed, so that nothing is counted twice:

- only top-level zones ``intel-rapl:N``; ``intel-rapl-mmio:N`` is the same
  package domain read through MMIO and is skipped;
- if a ``psys`` zone exists (platform, client CPUs since Skylake) it already
  contains the packages, so it alone is used;
- else every ``package-N`` zone, plus its ``dram`` sub-zone (DRAM is outside the
  package domain); ``core`` and ``uncore`` sub-zones are inside the package and
  are skipped.

Each ``energy_uj`` counter (µJ) wraps at ``max_energy_range_uj``: when a reading
is below the previous one, the delta is ``now + max_energy_range_uj - previous``.
Since Linux 5.10 (CVE-2020-8694) ``energy_uj`` is readable by root only.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from otswarm.energy.errors import MeterUnavailableError
from otswarm.energy.meters.base import Clock, EnergyCounterMeter
from otswarm.energy.meters.sysfs import read_int, read_text

_TOP = re.compile(r"intel-rapl:(\d+)")
_SUB = re.compile(r"intel-rapl:(\d+):(\d+)")
PERMISSION_HINT = (
    "energy_uj is readable by root only since Linux 5.10 (CVE-2020-8694): run as root, "
    "or grant read access with `sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj` "
    '(or a udev rule), or set meter.kind = "model" in the board profile'
)


@dataclass(frozen=True)
class RaplZone:
    """One summed zone: its sysfs directory, name and wrap modulus (µJ)."""

    path: Path
    name: str
    max_range_uj: int


def find_zones(powercap: Path) -> list[RaplZone]:
    """The zones to sum under a powercap directory, following the module rules."""
    if not powercap.is_dir():
        raise MeterUnavailableError(f"{powercap}: no powercap directory (no RAPL on this machine)")
    names = {p.name: read_text(p / "name") for p in powercap.iterdir() if (p / "name").is_file()}
    top = sorted(n for n in names if _TOP.fullmatch(n))
    if not top:
        raise MeterUnavailableError(f"{powercap}: no intel-rapl zones")
    psys = [n for n in top if names[n] == "psys"]
    chosen = psys or [n for n in top if names[n].startswith("package")]
    if not psys:
        chosen += sorted(
            n
            for n, name in names.items()
            if name == "dram" and (m := _SUB.fullmatch(n)) and f"intel-rapl:{m[1]}" in chosen
        )
    return [
        RaplZone(powercap / n, names[n], read_int(powercap / n / "max_energy_range_uj"))
        for n in chosen
    ]


class RaplMeter(EnergyCounterMeter):
    """Board energy from the summed RAPL zones of ``<root>/sys/class/powercap``."""

    def __init__(
        self, root: str | Path = "/", *, sample_period_s: float = 0.1, clock: Clock = time.time
    ) -> None:
        self.zones = find_zones(Path(root) / "sys" / "class" / "powercap")
        self.source = "rapl:" + "+".join(z.name for z in self.zones)
        self.sample_period_s = sample_period_s
        self._raw = [self._read_uj(z) for z in self.zones]
        self._total_uj = 0
        super().__init__(clock)

    @staticmethod
    def _read_uj(zone: RaplZone) -> int:
        return read_int(zone.path / "energy_uj", hint=PERMISSION_HINT)

    def read_energy(self) -> float:
        for i, zone in enumerate(self.zones):
            raw = self._read_uj(zone)
            delta = raw - self._raw[i]
            if delta < 0:  # the counter wrapped
                delta += zone.max_range_uj
            self._total_uj += delta
            self._raw[i] = raw
        return self._total_uj * 1e-6
