"""Raspberry Pi 5 board power from the PMIC's ADC: ``vcgencmd pmic_read_adc``.

The DA9091 PMIC reports each rail's current (``NAME_A current(i)=...A``) and
voltage (``NAME_V volt(j)=...V``); ``EXT5V_V`` is the 5 V input and has no
current. Sum of the rails:

    P_rails = sum over rails with both readings of V * I            (W)

The rails miss what the 5 V input feeds directly (USB ports, fan, HDMI 5 V)
and the PMIC's own conversion losses, so the board power is estimated with a
linear correction from the profile:

    P_board = correction_scale * P_rails + correction_offset_w

(``profiles/rpi5.toml`` cites the fit it uses). Each reading runs the command,
about 10 ms of CPU on a Pi 5: sample at 1 Hz.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping, Sequence

from otswarm.energy.errors import MeterError, MeterUnavailableError
from otswarm.energy.meters.base import Clock, PowerReadingMeter

VCGENCMD = ("vcgencmd", "pmic_read_adc")
_LINE = re.compile(r"^\s*(\w+)_([AV])\s+(?:current|volt)\(\d+\)=([-+0-9.eE]+)[AV]\s*$")


def parse_pmic_adc(text: str) -> dict[str, float]:
    """Rail power (W) from ``vcgencmd pmic_read_adc`` output, for rails with V and I."""
    amps: dict[str, float] = {}
    volts: dict[str, float] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            rail, unit, value = match.groups()
            (amps if unit == "A" else volts)[rail] = float(value)
    rails = {rail: volts[rail] * amps[rail] for rail in amps if rail in volts}
    if not rails:
        raise MeterError(
            f"no rail with both current and voltage in pmic_read_adc output: {text[:200]!r}"
        )
    return rails


class Pi5PmicMeter(PowerReadingMeter):
    """Board power of a Raspberry Pi 5 from ``command`` (``vcgencmd pmic_read_adc``)."""

    def __init__(
        self,
        command: Sequence[str] = VCGENCMD,
        *,
        correction_scale: float = 1.0,
        correction_offset_w: float = 0.0,
        sample_period_s: float = 1.0,
        timeout_s: float = 5.0,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(clock)
        self.command = list(command)
        self.scale, self.offset_w = correction_scale, correction_offset_w
        self.sample_period_s = sample_period_s
        self.timeout_s = timeout_s
        self.source = "pi5_pmic"
        self.read_power()  # fail now (no vcgencmd, not a Pi 5), not at the first sample

    def read_power(self) -> tuple[float, Mapping[str, float]]:
        try:
            done = subprocess.run(
                self.command, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except FileNotFoundError as exc:
            raise MeterUnavailableError(
                f"{self.command[0]}: not found (not a Raspberry Pi?)"
            ) from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise MeterError(f"{' '.join(self.command)}: {exc}") from exc
        if done.returncode != 0:
            stderr = done.stderr.strip()[:200]
            raise MeterError(f"{' '.join(self.command)}: exit status {done.returncode}: {stderr}")
        rails = parse_pmic_adc(done.stdout)
        return self.scale * sum(rails.values()) + self.offset_w, rails
