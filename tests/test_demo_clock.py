"""The demo reports every energy on the simulated boards' clock: idle booked on the
wall clock is scaled by the boards' acceleration from power-up on, and the idle of the
agent's start-up (before the board clock existed) is reported apart, not added."""

from __future__ import annotations

import pytest

from otswarm.demo.clock import BoardClock
from otswarm.demo.collect import ledger_totals
from otswarm.energy import EnergyLedger, ledger_path, load_profile
from otswarm.energy.store import Entry


def _idle(t0, t1, watts=2.0):
    return Entry("a", "idle", t0, t1, watts * (t1 - t0), 0.0, 0, 0)


def test_idle_after_power_up_is_scaled_and_before_is_kept_apart():
    clock = BoardClock(board_s_per_wall_s=240.0, powered_up_at=100.0)
    entries = [_idle(90.0, 95.0), _idle(95.0, 105.0), _idle(105.0, 110.0)]
    board, before = clock.idle_j(entries)
    assert board == pytest.approx(2.0 * 240.0 * 10.0)  # 10 wall s after power-up
    assert before == pytest.approx(2.0 * 10.0)  # 10 wall s before it, on the wall clock
    assert clock.idle_j([_idle(5.0, 5.0)]) == (0.0, 0.0)  # an empty interval books nothing


def test_report_totals_put_a_real_ledger_on_the_board_clock(tmp_path):
    now = [1000.0]
    profile = load_profile("x86-dev")
    path = ledger_path(tmp_path, "a")
    ledger = EnergyLedger(path, "a", profile, clock=lambda: now[0], start=False)
    now[0] = 1004.0  # the agent starts: 4 wall s before the boards power up
    ledger.tick()
    ledger.book("energy_out", 50.0)  # board-clock joules, as the MCU moved them
    now[0] = 1010.0
    ledger.tick()
    ledger.close()
    totals, before = ledger_totals(tmp_path, "a", BoardClock(60.0, powered_up_at=1004.0))
    assert totals["idle"] == pytest.approx(profile.idle_w * 6.0 * 60.0)
    assert before == pytest.approx(profile.idle_w * 4.0)
    assert totals["energy_out"] == pytest.approx(50.0)  # moved energy is left as it is


def test_the_report_says_which_clock():
    described = BoardClock(240.0, 5.0).describe()
    assert described["name"] == "board" and described["board_s_per_wall_s"] == 240.0
    assert "240" in described["meaning"]
