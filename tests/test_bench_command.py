"""`otswarm bench`: lists the targets, refuses unknown ones, runs `ot` and writes its JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otswarm.ot import _kernel

ROOT = Path(__file__).resolve().parents[1]


def _otswarm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "otswarm.cli", "bench", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_bench_without_target_lists_the_targets():
    result = _otswarm()
    assert result.returncode == 2
    assert "benchmark targets:" in result.stderr and "ot" in result.stderr.split(":")[-1]


def test_bench_unknown_target_names_it_and_the_known_ones():
    result = _otswarm("no-such-target")
    assert result.returncode == 2
    assert "unknown target 'no-such-target'" in result.stderr
    assert "ot" in result.stderr.splitlines()[-1]


def test_bench_ot_writes_ratios_and_both_costs(tmp_path):
    out = tmp_path / "ot.json"
    args = "--quick --sizes 16 --batch 5 --no-cold-start"
    result = _otswarm("ot", "--json", str(out), "--script-args", args)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    rows = doc["results"]
    assert {r["kernel"] for r in rows} == {"sinkhorn_kernel", "sinkhorn_log", "sinkhorn_batch_5x"}
    fixed = doc["fixed_cost"]  # the per-call fixed cost was measured, over every call
    assert fixed["n"] == 16 and fixed["calls"] == 30000
    assert 0 < fixed["p5_us"] <= fixed["median_us"]
    # the sweeps are taken out: one sweep costs something, the rest is the fixed cost
    assert fixed["further_sweeps"] == 20 and fixed["per_sweep_us"] > 0
    assert fixed["fixed_us"] == pytest.approx(fixed["p5_us"] - fixed["per_sweep_us"])
    # ... of the least loaded of its blocks, every block's given
    assert len(fixed["fixed_us_blocks"]) == fixed["blocks"] > 1
    assert fixed["fixed_us"] in fixed["fixed_us_blocks"]
    # the machine's price of a call of that shape, measured in the same block
    assert len(fixed["floor_us_blocks"]) == fixed["blocks"]
    best = fixed["fixed_us_blocks"].index(fixed["fixed_us"])
    assert 0 < fixed["floor_us"] == fixed["floor_us_blocks"][best]
    for r in rows:
        assert r["ratio"] > 0 and r["otswarm_converged"]
        # same problem, same tolerance: the two solvers agree on the cost
        assert abs(r["otswarm_cost"] - r["pot_cost"]) <= 1e-6 * abs(r["pot_cost"])
    assert "ratio" in result.stdout


def test_bench_ot_unseen_judges_each_drawn_problem_by_its_target(tmp_path):
    out = tmp_path / "unseen.json"
    args = ["--only", "emd", "barycenter", "--per-kernel", "1", "--seed", "7"]
    result = _otswarm("ot_unseen", "--json", str(out), *args)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    rows = doc["results"]
    assert doc["settings"]["seed"] == 7
    assert [r["kernel"] for r in rows] == ["emd"] * 4 + ["barycenter"] * 3
    assert [r["n"] for r in rows] == [16, 40, 100, 256, 16, 64, 256]
    for r in rows:
        assert r["target"] == {"emd": 1.0, "barycenter": 4.0}[r["kernel"]]
        assert r["met"] == (r["ratio"] >= r["target"])
        assert r["otswarm_converged"] and r["pot_converged"]
    # the exact solver gives POT's cost; the barycenters agree on their mean
    assert all(r["rel_cost_diff"] <= 1e-9 for r in rows if r["kernel"] == "emd")
    assert all(r["rel_cost_diff"] <= 1e-4 for r in rows if r["kernel"] == "barycenter")
    for kernel, s in doc["summary"].items():
        mine = [r for r in rows if r["kernel"] == kernel]
        assert s["cases"] == len(mine) and s["met"] == sum(r["met"] for r in mine)
        assert s["lowest_ratio"] == min(r["ratio"] for r in mine)


def test_bench_ot_sweeps_counts_the_sweeps_of_each_solver_and_of_pot(tmp_path):
    out = tmp_path / "sweeps.json"
    result = _otswarm("ot_sweeps", "--json", str(out), "--script-args", "--problems 4 --seed 3")
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    rows = doc["results"]
    assert doc["settings"]["seed"] == 3 and doc["settings"]["problems"] == 4
    assert doc["settings"]["early_rate"] == _kernel.EARLY_RATE
    # one problem per size band, from the smallest
    assert [r["n"] for r in rows] == sorted(r["n"] for r in rows) and rows[0]["n"] <= 24
    for r in rows:
        for solver in ("float64", "float32", "unbalanced", "pot"):
            assert r[solver]["converged"] and r[solver]["sweeps"] >= 1
        assert r["pot"]["sweeps"] % 10 == 0  # POT tests its error every 10 iterations
    s = doc["summary"]
    for solver in ("float64", "float32", "unbalanced", "pot"):
        assert s[solver]["sweeps"] == sum(r[solver]["sweeps"] for r in rows)
        assert s[solver]["problems"] == s[solver]["converged"] == 4
    assert s["ratio_to_pot"] == s["float64"]["sweeps"] / s["pot"]["sweeps"]
