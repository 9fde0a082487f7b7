"""``otswarm profile`` on real ledgers: the table, the report files, time ranges."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from energy_support import StepClock

from otswarm.energy import EnergyLedger, LedgerReader, ledger_path, load_profile
from otswarm.energy.report import build_reports

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_795_000_000.0


def _otswarm(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "otswarm.cli", "profile", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run directory with two agents' ledgers, 20 s each, written by EnergyLedger."""
    run = tmp_path_factory.mktemp("run")
    for agent, board, ot_j in (("a1", "rpi4", 0.3), ("a2", "rpi5", 0.1)):
        clock = StepClock(T0)
        ledger = EnergyLedger(
            ledger_path(run, agent), agent, load_profile(board), clock=clock, start=False
        )
        for _ in range(40):  # 20 s in 0.5 s steps
            clock.t += 0.5
            ledger.book("ot", ot_j)
            ledger.book("policy", 0.05)
            ledger.book_bytes("mqtt_tx", 2000)
            ledger.book_bytes("mqtt_rx", 4000)
            ledger.tick()
        ledger.book("energy_out", 3.0)
        ledger.close()
    return run


def test_profile_prints_tables_and_writes_the_report(run_dir, tmp_path):
    out = tmp_path / "report"
    result = _otswarm(str(run_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    for text in ("agent a1 (rpi4)", "agent a2 (rpi5)", "ot", "mqtt_rx", "idle", "energy_out"):
        assert text in result.stdout
    report = json.loads((out / "energy_report.json").read_text())["agents"]
    with LedgerReader(ledger_path(run_dir, "a1")) as reader:
        totals = reader.totals("a1")["a1"]
    a1 = report["a1"]
    assert a1["duration_s"] == pytest.approx(20.0)
    assert a1["components"]["ot"]["joules"] == pytest.approx(totals["ot"]) == pytest.approx(12.0)
    assert a1["components"]["ot"]["mean_w"] == pytest.approx(12.0 / 20.0)
    assert sum(c["share"] for c in a1["components"].values()) == pytest.approx(1.0)
    assert a1["components"]["idle"]["joules"] == pytest.approx(20.0 * 2.7)  # rpi4 idle_w
    assert "energy_out" not in a1["components"] and a1["allocation_j"]["energy_out"] == 3.0
    png = (out / "energy_report.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    page = (out / "energy_report.html").read_text()
    assert "data:image/png;base64," in page and "<td>mqtt_tx</td>" in page


def test_profile_time_range_is_relative_to_the_run_start(run_dir, tmp_path):
    result = _otswarm(
        str(ledger_path(run_dir, "a2")), "--out", str(tmp_path), "--since", "10", "--no-plots"
    )
    assert result.returncode == 0, result.stderr
    a2 = json.loads((tmp_path / "energy_report.json").read_text())["agents"]["a2"]
    # bookings at 10.0 s .. 20.0 s after the start: 21 half-second steps of 0.1 J of ot
    assert a2["components"]["ot"]["joules"] == pytest.approx(21 * 0.1)
    assert not (tmp_path / "energy_report.png").exists()


def test_power_trace_conserves_energy(run_dir):
    for report in build_reports([run_dir], bin_s=3.0):
        assert sum(report.trace_w) * report.bin_s == pytest.approx(report.spent_j)


def test_profile_errors_are_clear(tmp_path):
    result = _otswarm(str(tmp_path / "nope"))
    assert result.returncode == 1
    assert "no such ledger file or run directory" in result.stderr
    result = _otswarm(str(tmp_path))
    assert result.returncode == 1 and "no *.ledger.sqlite ledger" in result.stderr


def test_profile_live_samples_this_board():
    result = _otswarm("--live", "--board", "x86-dev", "--duration", "0.5", "--period", "0.1")
    assert result.returncode == 0, result.stderr
    assert "meter model:x86-dev" in result.stdout or "meter rapl" in result.stdout
    assert "mean" in result.stdout


def test_energy_the_meter_saw_but_no_component_booked_is_reported(tmp_path):
    from otswarm.energy.meters.telemetry import TelemetryMeter

    clock = StepClock(T0)
    meter = TelemetryMeter(clock=clock)
    ledger = EnergyLedger(
        ledger_path(tmp_path, "m1"),
        "m1",
        load_profile("rpi4"),
        meter=meter,
        clock=clock,
        start=False,
    )
    for _ in range(21):  # 10 s at a constant 5 W on the meter, in 0.5 s steps
        meter.push(clock.t, 5.0)
        ledger.tick()
        clock.t += 0.5
    ledger.book("ot", 1.0)
    ledger.close()
    (report,) = build_reports([tmp_path])
    # 5 W between the ledger's first and last meter sample: 9.5 to 10 s of the run
    assert 47.5 - 1e-9 <= report.measured_j <= 50.0 + 1e-9
    assert report.unattributed_j == pytest.approx(report.measured_j - report.spent_j)
    result = _otswarm(str(tmp_path), "--no-plots")
    assert result.returncode == 0, result.stderr
    assert "not attributed (meter - booked)" in result.stdout
