"""The per-agent energy ledger: pricing, queries by time range, persistence
across a SIGKILLed writer, and reading while another process writes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from energy_support import StepClock

from otswarm.energy import (
    EnergyLedger,
    LedgerError,
    LedgerReader,
    ledger_path,
    load_profile,
)
from otswarm.energy.meters import PowerReadingMeter

ROOT = Path(__file__).resolve().parents[1]
PROFILE = load_profile("rpi4")


class ConstantLoad(PowerReadingMeter):
    """A meter for ledger tests: the board draws ``watts`` (a real PowerReadingMeter
    subclass, so the integration path is the production one)."""

    source = "constant"

    def __init__(self, watts: float, clock) -> None:
        super().__init__(clock)
        self.watts = watts

    def read_power(self):
        return self.watts, {}


def test_booking_pricing_and_time_range_queries(tmp_path):
    clock = StepClock()
    path = ledger_path(tmp_path, "a1")
    ledger = EnergyLedger(path, "a1", PROFILE, clock=clock, start=False)
    ledger.book("ot", 2.0, t=1000.5)
    assert ledger.book_bytes("mqtt_tx", 1000, t=1000.6) == pytest.approx(1000 * 7e-6)
    ledger.book_bytes("mqtt_rx", 500, t=1000.7)
    ledger.book("energy_in", 5.0, t=1000.8)
    clock.t = 1001.0
    ledger.tick()  # books 1 s of idle and commits the first window
    ledger.book("ot", 3.0, t=1001.5)
    ledger.book("policy", 0.25, t=1001.6)
    clock.t = 1002.0
    ledger.tick()
    ledger.close()

    with LedgerReader(path) as reader:
        assert reader.agents() == ["a1"]
        totals = reader.totals()["a1"]
        assert totals["ot"] == pytest.approx(5.0)
        assert totals["idle"] == pytest.approx(2 * PROFILE.idle_w)
        assert totals["mqtt_rx"] == pytest.approx(500 * 7e-6)
        assert totals["energy_in"] == pytest.approx(5.0)
        first = reader.totals("a1", since=1000.0, until=1001.0)["a1"]
        assert first["ot"] == pytest.approx(2.0) and "policy" not in first
        # idle is booked at the end of its interval: the 1000-1001 s idle sits at t = 1001
        second = reader.totals("a1", since=1001.25)["a1"]
        assert second == {
            "idle": pytest.approx(PROFILE.idle_w),
            "ot": pytest.approx(3.0),
            "policy": pytest.approx(0.25),
        }
        (tx,) = reader.entries("a1", "mqtt_tx")
        assert (tx.bytes, tx.count, tx.t0, tx.t1) == (1000, 1, 1000.6, 1000.6)
        assert reader.time_span("a1") == (1000.0, 1002.0)  # idle covers it from the start
        assert reader.meta()["profile.a1"] == "rpi4"
        assert reader.totals("nobody") == {}


def test_measure_prices_cpu_time_and_wall_time(tmp_path):
    clock = StepClock()
    meter = ConstantLoad(PROFILE.idle_w + 1.5, clock)
    ledger = EnergyLedger(tmp_path / "l.sqlite", "a1", PROFILE, meter, clock=clock, start=False)
    with ledger.measure("ot") as span:
        sum(i * i for i in range(200_000))  # real CPU work on this thread
    assert span.seconds > 0
    assert span.joules == pytest.approx(span.seconds * PROFILE.per_core_w)
    with ledger.measure("policy", basis="wall") as wall:
        time.sleep(0.01)
    assert wall.joules == pytest.approx(wall.seconds * PROFILE.per_core_w)  # no sample yet
    clock.t += 1.0
    sample = ledger.tick()
    assert sample.watts == pytest.approx(PROFILE.idle_w + 1.5)
    with ledger.measure("policy", basis="wall") as wall:
        time.sleep(0.01)
    # dynamic power = measured - idle = 1.5 W
    assert wall.joules == pytest.approx(wall.seconds * 1.5)
    totals = ledger.totals()["a1"]
    assert totals["ot"] == pytest.approx(span.joules)
    assert len(ledger.samples("a1")) == 1
    ledger.close()


def test_bad_bookings_are_typed_errors(tmp_path):
    with EnergyLedger(tmp_path / "l.sqlite", "a1", PROFILE, start=False) as ledger:
        for bad in (-1.0, float("nan"), float("inf")):
            with pytest.raises(LedgerError, match="finite and >= 0"):
                ledger.book("ot", bad)
        with pytest.raises(LedgerError, match="lower-case name"):
            ledger.book("OT solve", 1.0)
        with pytest.raises(LedgerError, match="lower-case name"), ledger.measure("Policy!"):
            pass
        with pytest.raises(LedgerError, match="not priced per byte"):
            ledger.book_bytes("ot", 10)
        with pytest.raises(LedgerError, match="n_bytes"):
            ledger.book_bytes("serial", -3)
        with pytest.raises(LedgerError, match="basis"), ledger.measure("ot", basis="gpu"):
            pass
    with pytest.raises(LedgerError, match="no such ledger"):
        LedgerReader(tmp_path / "absent.sqlite")
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(LedgerError, match="not an otswarm ledger"):
        LedgerReader(tmp_path / "junk.sqlite")


WRITER = """
import sys, time
from otswarm.energy import EnergyLedger, load_profile
from otswarm.energy.meters import discover_meter
profile = load_profile("rpi4")
ledger = EnergyLedger(sys.argv[1], "victim", profile, discover_meter(profile))
n = 0
while True:
    t = time.time()
    ledger.book("ot", 1.0, t=t)
    n += 1
    print(n, repr(t), flush=True)
    time.sleep(0.005)
"""


def test_sigkilled_writer_loses_at_most_its_last_second(tmp_path):
    path = tmp_path / "victim.ledger.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    booked: list[float] = []
    try:
        for line in proc.stdout:
            booked.append(float(line.split()[1]))
            if len(booked) == 150:
                # another process reads the ledger while it is being written
                with LedgerReader(path) as live:
                    assert live.totals("victim")["victim"]["ot"] > 0
            if len(booked) >= 300:
                break
        proc.send_signal(signal.SIGKILL)
        booked += [float(line.split()[1]) for line in proc.stdout]  # printed before the kill
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with LedgerReader(path) as reader:
        kept = reader.totals("victim")["victim"]
        samples = reader.samples("victim")
    kill_t = booked[-1]
    lost = len(booked) - round(kept["ot"])
    # every booking older than 1 s before the kill must be on disk (the guarantee)
    assert lost <= sum(1 for t in booked if t > kill_t - 1.0), (lost, len(booked))
    assert kept["idle"] > 0 and samples and samples[-1].source == "model:rpi4"


class _FullDisk:
    """A connection whose writes fail as on a full disk, until ``full`` is cleared."""

    def __init__(self, conn) -> None:
        self.conn, self.full = conn, True

    def execute(self, sql, *args):
        return self.conn.execute(sql, *args)

    def executemany(self, sql, rows):
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.executemany(sql, rows)

    def rollback(self):
        return self.conn.rollback()


def test_running_totals_match_the_committed_rows_through_a_failed_commit(tmp_path, caplog):
    clock = StepClock()
    path = ledger_path(tmp_path, "a1")
    ledger = EnergyLedger(path, "a1", PROFILE, clock=clock, start=False)
    assert ledger.booked() == {} and ledger.booked_until("idle") is None
    ledger.book("ot", 2.0, t=1000.5)
    ledger.book_bytes("mqtt_tx", 1000, t=1000.6)
    disk = ledger._conn = _FullDisk(ledger._conn)
    clock.t = 1001.0
    ledger.tick()  # the commit fails: the bookings go back to pending, once
    assert "commit failed" in caplog.text
    ledger.book("ot", 1.0, t=1001.5)
    disk.full = False
    clock.t = 1002.0
    ledger.tick()
    booked = ledger.booked()
    assert booked == {
        "ot": pytest.approx(3.0),
        "mqtt_tx": pytest.approx(1000 * 7e-6),
        "idle": pytest.approx(2 * PROFILE.idle_w),
    }
    assert ledger.booked_until("idle") == 1002.0 and ledger.booked_until("ot") == 1001.5
    assert ledger.totals("a1")["a1"] == pytest.approx(booked)  # every row committed once
    ledger._conn = disk.conn
    ledger.close()
