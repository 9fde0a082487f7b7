"""Every meter reader against recorded fixtures in the real formats: sysfs trees,
vcgencmd output, i2cdump register dumps; wraparound and permission errors."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from energy_support import FIXTURES, StepClock

from otswarm.energy import discover_meter, load_profile
from otswarm.energy.errors import (
    MeterError,
    MeterStaleError,
    MeterUnavailableError,
)
from otswarm.energy.meters import ModelMeter
from otswarm.energy.meters.hwmon_ina2xx import HwmonIna2xxMeter
from otswarm.energy.meters.ina_i2c import INA219, INA226, InaI2CMeter, calibration
from otswarm.energy.meters.jetson_ina3221 import JetsonIna3221Meter
from otswarm.energy.meters.pi5_pmic import Pi5PmicMeter, parse_pmic_adc
from otswarm.energy.meters.rapl import RaplMeter
from otswarm.energy.meters.telemetry import TelemetryMeter
from otswarm.firmware_bridge.protocol import MODE_RUN, Telemetry

ROOT = Path(__file__).resolve().parents[1]


def _copy(name: str, dest: Path) -> Path:
    shutil.copytree(FIXTURES / name, dest, dirs_exist_ok=True)
    return dest


# -- RAPL -----------------------------------------------------------------------------
def test_rapl_laptop_uses_psys_only():
    meter = RaplMeter(FIXTURES / "rapl_laptop")
    # psys contains the package; the core/uncore sub-zones and the MMIO copy are skipped
    assert [z.name for z in meter.zones] == ["psys"]
    assert meter.source == "rapl:psys"


def test_rapl_server_sums_packages_and_dram_across_a_wraparound(tmp_path):
    root = _copy("rapl_server", tmp_path)
    clock = StepClock()
    meter = RaplMeter(root, clock=clock)
    assert sorted(z.name for z in meter.zones) == ["dram", "dram", "package-0", "package-1"]
    _copy("rapl_server_1s_later", root)  # package-0 wrapped at max_energy_range_uj
    clock.t += 1.0
    sample = meter.read()
    # +40 J (across the wrap) + 5 J + 35 J + 4 J in 1 s
    assert sample.joules == pytest.approx(84.0)
    assert sample.watts == pytest.approx(84.0)


def test_rapl_missing_is_unavailable(tmp_path):
    with pytest.raises(MeterUnavailableError, match="no powercap"):
        RaplMeter(tmp_path)


UNPRIVILEGED_READ = """
import sys
from otswarm.energy.errors import MeterPermissionError
from otswarm.energy.meters.rapl import RaplMeter
try:
    RaplMeter(sys.argv[1])
except MeterPermissionError as exc:
    print("PERMISSION", exc)
"""


def _drop_file_permission_override() -> None:
    """In the child, before exec: drop CAP_DAC_OVERRIDE (1) and CAP_DAC_READ_SEARCH (2)
    from the bounding set (prctl PR_CAPBSET_DROP = 24), so that even root gets EACCES
    on a file it has no permission bits for, as an ordinary user does."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_rapl_unreadable_energy_uj_is_a_clear_permission_error(tmp_path):
    # energy_uj is root-only since Linux 5.10: make it unreadable for the reading process
    root = _copy("rapl_laptop", tmp_path)
    for path in root.rglob("energy_uj"):
        path.chmod(0o000)
    code = [sys.executable, "-c", UNPRIVILEGED_READ, str(root)]
    preexec = _drop_file_permission_override if os.geteuid() == 0 else None
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(code, capture_output=True, text=True, env=env, preexec_fn=preexec)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("PERMISSION"), done.stdout
    assert "energy_uj" in done.stdout and "CVE-2020-8694" in done.stdout
    assert "chmod o+r" in done.stdout


# -- INA219 / INA226 over I2C -----------------------------------------------------------
class I2cDumpBus:
    """An I2C bus replaying one device's registers from an ``i2cdump -y BUS ADDR w``
    recording; writes land in the register map. Word mode prints SMBus words
    (little-endian), so each word is byte-swapped back to the INA's big-endian value."""

    def __init__(self, dump: Path, address: int) -> None:
        self.address = address
        self.registers: dict[int, int] = {}
        for line in dump.read_text().splitlines()[1:]:
            row, _, words = line.partition(":")
            for i, word in enumerate(words.split()):
                value = int(word, 16)
                self.registers[int(row, 16) + i] = ((value & 0xFF) << 8) | (value >> 8)
        self.writes: list[tuple[int, int]] = []

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        if i2c_addr != self.address:
            raise OSError(121, "Remote I/O error")
        value = self.registers[register]
        return [value >> 8, value & 0xFF][:length]

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None:
        if i2c_addr != self.address:
            raise OSError(121, "Remote I/O error")
        self.registers[register] = (data[0] << 8) | data[1]
        self.writes.append((register, self.registers[register]))


def test_calibration_follows_the_datasheets():
    # CAL = trunc(k / (I_max / 2^15 * R)): SBOS547 (INA226) k = 0.00512, SBOS448 (INA219) 0.04096
    assert calibration(INA226, 0.1, 3.2) == (524, 3.2 / 32768)
    assert calibration(INA226, 0.1, 0.8)[0] == 2097
    assert calibration(INA219, 0.1, 3.2)[0] == 4194
    with pytest.raises(MeterError, match="out of range"):
        calibration(INA226, 0.0001, 0.001)


def test_ina226_register_dump():
    bus = I2cDumpBus(FIXTURES / "ina226_i2cdump_w.txt", 0x40)
    # 0.1 ohm shunt, 0.8 A full scale (the INA226's 81.92 mV shunt range)
    meter = InaI2CMeter("ina226", 1, 0x40, shunt_ohm=0.1, max_current_a=0.8, smbus=bus)
    assert (0x05, 2097) in bus.writes and (0x00, 0x4527) in bus.writes
    sample = meter.read()
    # POWER 0x1861 = 6241 bits * 25 * current_lsb (0.8 A / 2^15)
    assert sample.watts == pytest.approx(6241 * 25 * 0.8 / 32768)
    assert meter.bus_volts() == pytest.approx(0x0FE0 * 1.25e-3)  # 5.08 V
    assert meter.shunt_volts() == pytest.approx(0x7530 * 2.5e-6)  # 75 mV
    # cross-check against V * I within the chip's rounding (1 power LSB is 0.6 mW)
    assert sample.watts == pytest.approx(5.08 * 0.075 / 0.1, abs=0.005)
    assert sample.source == "ina226:i2c-1:0x40"


def test_ina219_register_dump_and_lost_calibration():
    bus = I2cDumpBus(FIXTURES / "ina219_i2cdump_w.txt", 0x40)
    meter = InaI2CMeter("ina219", 1, 0x40, shunt_ohm=0.1, max_current_a=3.2, smbus=bus)
    assert meter.read().watts == pytest.approx(0x08A2 * 20 * 3.2 / 32768)
    assert meter.bus_volts() == pytest.approx((0x27B2 >> 3) * 4e-3)
    bus.registers[0x05] = bus.registers[0x03] = 0  # the chip was reset by a brown-out
    watts = meter.read().watts
    assert bus.registers[0x05] == 4194  # calibration written again
    assert watts == pytest.approx(5.08 * 0.085 / 0.1)  # V_bus * V_shunt / R for that reading
    bus.registers[0x02] |= 0x1  # math overflow flag
    with pytest.raises(MeterError, match="overflow"):
        meter.bus_volts()


def test_ina_wrong_device_and_missing_device():
    bus = I2cDumpBus(FIXTURES / "ina219_i2cdump_w.txt", 0x40)  # no TI id at 0xFE
    with pytest.raises(MeterError, match="not an ina226"):
        InaI2CMeter("ina226", 1, 0x40, smbus=bus)
    with pytest.raises(MeterError, match=r"i2c-1 0x41: write of register 0x00 failed"):
        InaI2CMeter("ina219", 1, 0x41, smbus=bus)  # nothing answers at 0x41


# -- kernel ina2xx hwmon ---------------------------------------------------------------
def test_hwmon_ina226():
    meter = HwmonIna2xxMeter(FIXTURES / "hwmon_ina226")
    sample = meter.read()
    assert sample.watts == pytest.approx(4.3175)  # power1_input 4317500 µW
    assert sample.rails == {"hwmon2:ina226": pytest.approx(4.3175)}
    assert meter.sample_period_s == pytest.approx(0.035)  # update_interval 35 ms
    assert meter.source == "hwmon:ina226"


def test_hwmon_without_ina_is_unavailable():
    tree = FIXTURES / "rapl_laptop"
    with pytest.raises(MeterUnavailableError):
        HwmonIna2xxMeter(tree)


# -- Jetson INA3221 ----------------------------------------------------------------------
def test_jetson_nano_jetpack4_iio_layout():
    sample = JetsonIna3221Meter(FIXTURES / "jetson_nano_jp4").read()
    # POM_5V_IN already contains the CPU and GPU rails: it alone is the board power
    assert sample.watts == pytest.approx(3.18)
    assert sample.rails == {
        "POM_5V_IN": pytest.approx(3.18),
        "POM_5V_GPU": pytest.approx(0.04),
        "POM_5V_CPU": pytest.approx(0.876),
    }
    assert sample.source == "ina3221-iio:POM_5V_IN"


def test_jetson_orin_jetpack5_hwmon_layout_skips_the_sum_channel():
    sample = JetsonIna3221Meter(FIXTURES / "jetson_orin_nano_jp5").read()
    assert sample.watts == pytest.approx(5.032 * 1.048)  # VDD_IN, mV x mA
    assert set(sample.rails) == {"VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"}  # no in7/curr4


def test_jetson_without_a_total_rail_sums_the_rails(tmp_path):
    root = _copy("jetson_orin_nano_jp5", tmp_path)
    label = next(root.rglob("in1_label"))
    label.write_text("VDD_GPU\n")
    sample = JetsonIna3221Meter(root).read()
    assert sample.watts == pytest.approx(5.032 * (1.048 + 0.150 + 0.352))
    with pytest.raises(MeterUnavailableError, match="no ina3221x"):
        JetsonIna3221Meter(FIXTURES / "rapl_laptop")


# -- Raspberry Pi 5 PMIC ---------------------------------------------------------------
def test_pi5_pmic_parse_and_correction():
    text = (FIXTURES / "pi5_pmic_read_adc.txt").read_text()
    rails = parse_pmic_adc(text)
    assert "EXT5V" not in rails and "BATT" not in rails  # voltages without a current
    assert rails["VDD_CORE"] == pytest.approx(0.72127600 * 0.66645000)
    raw = sum(rails.values())
    meter = Pi5PmicMeter(
        ["cat", str(FIXTURES / "pi5_pmic_read_adc.txt")],
        correction_scale=1.1451,
        correction_offset_w=0.5879,
    )
    assert meter.read().watts == pytest.approx(1.1451 * raw + 0.5879)


def test_pi5_pmic_errors():
    with pytest.raises(MeterError, match="no rail"):  # a Pi 4's firmware answers with an error
        Pi5PmicMeter(["cat", str(FIXTURES / "pi4_vcgencmd_pmic_read_adc.txt")])
    with pytest.raises(MeterUnavailableError, match="not found"):
        Pi5PmicMeter(["/nonexistent/vcgencmd", "pmic_read_adc"])
    with pytest.raises(MeterError, match="exit status 3"):
        Pi5PmicMeter(["sh", "-c", "echo broken >&2; exit 3"])


# -- telemetry pushed by the bridge ------------------------------------------------------
def test_telemetry_meter_integrates_pushes_and_goes_stale():
    clock = StepClock(100.0)
    meter = TelemetryMeter(stale_after_s=2.0, clock=clock)
    with pytest.raises(MeterStaleError, match="no telemetry"):
        meter.read()
    meter.push(100.0, 2.0)
    meter.push_record({"t": 101.0, "watts": 4.0})
    meter.push_record(type("Rec", (), {"t": 102.0, "volts": 5.0, "amps": 0.8})())
    clock.t = 102.5
    sample = meter.read()
    assert (sample.t, sample.watts) == (102.0, 4.0)
    assert sample.joules == pytest.approx(3.0 + 4.0)  # trapezoids 2->4 W and 4->4 W, 1 s each
    with pytest.raises(MeterError, match="older"):
        meter.push(50.0, 1.0)
    with pytest.raises(MeterError, match="bad reading"):
        meter.push(103.0, float("nan"))
    with pytest.raises(MeterError, match="no power"):
        meter.push_record({"t": 103.0})
    clock.t = 110.0
    with pytest.raises(MeterStaleError, match="old"):
        meter.read()
    # the bridge's Telemetry record: stamped on arrival (its MCU clock is not wall time)
    record = Telemetry(123456, 5.0, 0.5, 2.5, 0.8, 1000.0, 0.0, 35.0, 0.5, MODE_RUN)
    meter.push_record(record)
    assert (meter.read().t, meter.read().watts) == (110.0, 2.5)
    meter.push_record(record._replace(power_w=None))  # volts x amps when power is missing
    assert meter.read().watts == 2.5


# -- discovery --------------------------------------------------------------------------
def test_discovery_picks_the_named_meter_or_the_best_available(tmp_path):
    nano = discover_meter(load_profile("jetson-nano"), FIXTURES / "jetson_nano_jp4")
    assert isinstance(nano, JetsonIna3221Meter)
    x86 = load_profile("x86-dev")  # meter.kind = "auto"
    assert isinstance(discover_meter(x86, FIXTURES / "rapl_server"), RaplMeter)
    assert isinstance(discover_meter(x86, FIXTURES / "hwmon_ina226"), HwmonIna2xxMeter)
    # nothing measurable: the model, reading this tree's /proc/stat
    fallback = discover_meter(load_profile("jetson-nano"), FIXTURES / "proc_busy")
    assert isinstance(fallback, ModelMeter)
    with pytest.raises(MeterUnavailableError):
        discover_meter(load_profile("jetson-nano"), FIXTURES / "proc_busy", strict=True)
