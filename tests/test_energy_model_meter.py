"""The model meter: P = idle + (loaded - idle) * u, u from /proc/stat deltas."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from energy_support import FIXTURES, StepClock

from otswarm.energy import discover_meter, load_profile
from otswarm.energy.errors import MeterError
from otswarm.energy.meters import ModelMeter
from otswarm.energy.meters.model import read_cpu_jiffies


def _write_stat(root: Path, busy: int, idle: int) -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    (root / "proc").mkdir(parents=True, exist_ok=True)
    line = f"cpu  {busy} 0 0 {idle} 0 0 0 0 500 0\ncpu0 {busy} 0 0 {idle} 0 0 0 0 0 0\n"
    (root / "proc" / "stat").write_text(line)


def test_recorded_proc_stat_parses():
    busy, total = read_cpu_jiffies(FIXTURES / "proc_busy" / "proc" / "stat")
    # user+nice+system+irq+softirq+steal, total adds idle+iowait; guest is inside user
    assert busy == 10132153 + 290696 + 3084719 + 0 + 25195 + 0
    assert total == busy + 46828483 + 16683


def test_model_power_follows_utilisation_and_integrates(tmp_path):
    profile = load_profile("rpi4")
    clock = StepClock()
    _write_stat(tmp_path, busy=0, idle=0)
    meter = ModelMeter(profile, tmp_path, clock=clock)
    meter.read()
    _write_stat(tmp_path, busy=100, idle=300)  # 25 % busy over the interval
    clock.t += 2.0
    sample = meter.read()
    expected = profile.idle_w + (profile.loaded_w - profile.idle_w) * 0.25
    assert sample.watts == pytest.approx(expected)
    _write_stat(tmp_path, busy=500, idle=300)  # 100 % busy
    clock.t += 1.0
    sample = meter.read()
    assert sample.watts == pytest.approx(profile.loaded_w)
    # trapezoid over 2 s at P(0), P(0.25) then 1 s from P(0.25) to P(1), P(0) = profile at u=0
    first = profile.idle_w
    assert sample.joules == pytest.approx((first + expected) + 0.5 * (expected + profile.loaded_w))
    assert sample.source == "model:rpi4"


def test_model_meter_reads_the_real_proc_stat():
    meter = discover_meter(load_profile("rpi4"))
    assert isinstance(meter, ModelMeter)
    profile = meter.profile
    assert profile.idle_w <= meter.read().watts <= profile.loaded_w


def test_bad_proc_stat_is_a_meter_error(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "stat").write_text("intr 1 2 3\n")
    with pytest.raises(MeterError, match="aggregate 'cpu' line"):
        ModelMeter(load_profile("rpi4"), tmp_path)
    shutil.rmtree(tmp_path / "proc")
    with pytest.raises(MeterError, match="cannot read CPU counters"):
        ModelMeter(load_profile("rpi4"), tmp_path)
