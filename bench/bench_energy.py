"""Cost of the energy meters and the ledger: CPU time per sample, against the
budget of 1 % of one core at 10 Hz (= 1 ms of CPU per sample).

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/bench_energy.py

Prints one JSON document. Meters read the recorded sysfs fixtures under
tests/fixtures/energy (the same files a board has, on tmpfs here) and the real
/proc/stat; the ledger runs with its real background thread at 10 Hz.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from otswarm.energy import EnergyLedger, load_profile  # noqa: E402
from otswarm.energy.meters import ModelMeter  # noqa: E402
from otswarm.energy.meters.hwmon_ina2xx import HwmonIna2xxMeter  # noqa: E402
from otswarm.energy.meters.jetson_ina3221 import JetsonIna3221Meter  # noqa: E402
from otswarm.energy.meters.pi5_pmic import Pi5PmicMeter  # noqa: E402
from otswarm.energy.meters.rapl import RaplMeter  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "energy"
RATE_HZ = 10.0
BUDGET_S = 0.01 / RATE_HZ  # 1 % of a core at 10 Hz: CPU seconds allowed per sample


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return sum(u.ru_utime + u.ru_stime for u in usage)


def per_call(fn, n: int) -> float:
    """Median over 5 rounds of the CPU seconds (own + children) per call of ``fn``."""
    rounds = []
    for _ in range(5):
        start = _cpu()
        for _ in range(n):
            fn()
        rounds.append((_cpu() - start) / n)
    return sorted(rounds)[2]


def row(cpu_s: float, rate_hz: float = RATE_HZ) -> dict:
    return {
        "cpu_us_per_sample": round(cpu_s * 1e6, 2),
        "rate_hz": rate_hz,
        "core_share": round(cpu_s * rate_hz, 6),
        "ratio_to_budget": round(cpu_s * rate_hz / 0.01, 4),
    }


def ledger_thread_share(seconds: float = 3.0) -> dict:
    """CPU share of a live ledger: its thread samples the costliest sysfs meter (the
    Jetson INA3221 fixture) at 10 Hz and commits every 0.5 s, while the main thread
    books 20 entries per 100 ms (the thread's time includes waking up cold)."""
    profile = load_profile("jetson-orin-nano")
    meter = JetsonIna3221Meter(FIXTURES / "jetson_orin_nano_jp5")
    with tempfile.TemporaryDirectory() as tmp:
        ledger = EnergyLedger(Path(tmp) / "b.ledger.sqlite", "bench", profile, meter)
        start, book_cpu = time.process_time(), 0.0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t = time.thread_time()
            for _ in range(5):
                ledger.book("ot", 0.01)
                ledger.book("policy", 0.002)
                ledger.book_bytes("mqtt_tx", 300)
                ledger.book_bytes("mqtt_rx", 900)
            book_cpu += time.thread_time() - t
            time.sleep(0.1)
        # the process's only other thread is this one, asleep but for its bookings
        thread_cpu = time.process_time() - start - book_cpu
        ledger.close()
    samples = seconds * RATE_HZ
    return {
        "ledger_thread_with_meter": row(thread_cpu / samples),
        "booking_20_entries_per_sample": row(book_cpu / samples),
        "total": row((thread_cpu + book_cpu) / samples),
    }


def main() -> None:
    profile = load_profile("rpi4")
    meters = {
        "model (/proc/stat)": ModelMeter(profile),
        "rapl (4 zones)": RaplMeter(FIXTURES / "rapl_server"),
        "ina2xx hwmon": HwmonIna2xxMeter(FIXTURES / "hwmon_ina226"),
        "jetson ina3221 (3 rails)": JetsonIna3221Meter(FIXTURES / "jetson_orin_nano_jp5"),
    }
    results = {name: row(per_call(m.read, 2000)) for name, m in meters.items()}
    pi5 = Pi5PmicMeter(["cat", str(FIXTURES / "pi5_pmic_read_adc.txt")])
    results["pi5 pmic (a process per read, 1 Hz)"] = row(per_call(pi5.read, 50), rate_hz=1.0)
    document = {
        "budget": "1 % of one core at 10 Hz = 1000 us of CPU per sample",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "meter_read_in_a_loop": results,
        "live_ledger_at_10_hz": ledger_thread_share(),
    }
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
