"""The OT benchmark's timing: both sides of a ratio are read in turn."""

from __future__ import annotations

import time

import pytest

import otswarm.ot as rot
from bench.bench_ot import call_floor, paired_times, problem


def _recorder(name, log, seconds=2e-4):
    def fn():
        log.append(name)
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass
        return name

    return fn


def _readings(log):
    """The sequence of sides read, one entry per run of calls in a row."""
    runs = []
    for name in log:
        if not runs or runs[-1] != name:
            runs.append(name)
    return runs


def test_the_readings_of_the_two_sides_alternate():
    log = []
    (t_ours, out_ours), (t_ref, out_ref) = paired_times(
        _recorder("ours", log), _recorder("ref", log), ref_budget=0.02, budget=0.02
    )
    assert (out_ours, out_ref) == ("ours", "ref") and t_ours > 0 and t_ref > 0
    runs = _readings(log)
    # a first call of each (the number of calls a reading takes), then one reading of
    # each per round while both are due
    assert runs[:2] == ["ours", "ref"]
    paired = runs[2 : 2 + 2 * (runs.count("ref") - 1)]
    assert paired[::2] == ["ours"] * (len(paired) // 2)
    assert paired[1::2] == ["ref"] * (len(paired) // 2)
    assert runs.count("ref") >= 3  # its first call and at least 2 readings


def test_a_reference_without_a_budget_is_read_twice_and_ours_goes_on():
    log = []
    paired_times(_recorder("ours", log), _recorder("ref", log, 2e-3), ref_budget=0.0, budget=0.05)
    runs = _readings(log)
    assert runs.count("ref") == 3  # the first call, then exactly 2 readings
    assert runs[-1] == "ours" and runs.count("ours") > 3


def test_the_call_floor_builds_a_one_sweep_result_and_solves_nothing():
    """Within call_floor, sinkhorn runs its plain path's Python around a
    compiled call of the same signature (the buffer, the result record) and
    nothing of the solve: fixed_cost's floor_us is that price alone; after
    it, sinkhorn solves again, and a failure within it restores the
    solvers too."""
    a, b, M = problem(16)
    with call_floor():
        result = rot.sinkhorn(a, b, M, 0.05, max_iter=1)
    solved = rot.sinkhorn(a, b, M, 0.05, max_iter=1)
    assert type(result) is type(solved)
    assert (result.n_iter, result.converged, result.method, result.reg) == (
        1,
        False,
        "kernel",
        0.05,
    )
    assert result.cost == 0.0 != solved.cost  # returned at once: no sweep took a cost
    assert result.plan.shape == solved.plan.shape == M.shape
    with pytest.raises(RuntimeError), call_floor():
        raise RuntimeError
    assert rot.sinkhorn(a, b, M, 0.05, max_iter=1).cost == solved.cost
