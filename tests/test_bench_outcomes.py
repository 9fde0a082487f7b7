"""`otswarm bench outcomes`: every strategy present, physical figures, balanced books,
deterministic seeds, and the pieces (fleet books, statistics, option forwarding)."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.outcomes import metrics, scenario, simulate, stats, strategies  # noqa: E402
from bench.outcomes.boards import Fleet  # noqa: E402
from otswarm.commands.bench import split_options  # noqa: E402

PHYSICAL = ("downtime_h", "worst_downtime_h", "work_h", "fairness", "wasted_wh", "shared_wh")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One `otswarm bench outcomes --quick` run: (document, stderr, output folder)."""
    out = tmp_path_factory.mktemp("outcomes")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "otswarm.cli",
            "bench",
            "outcomes",
            "--quick",
            "--json",
            str(out / "doc.json"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    return json.loads((out / "doc.json").read_text()), result.stderr, out


def test_quick_run_reports_every_strategy_with_its_progress(quick):
    doc, stderr, out = quick
    names = {s.name for s in strategies.to_run()}
    assert set(doc["strategies"]) == names
    assert doc["seeds"] == [0, 1]
    assert doc["default_strategy"] in names
    assert stderr.count("seed 0:") == len(names) and stderr.count("seed 1:") == len(names)
    assert (out / "outcomes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "outcomes.md").read_text()
    assert all(name in table for name in names)
    assert len(doc["table"]["rows"]) == len(names)
    capabilities = {c["capability"] for c in doc["comparisons"]}
    assert capabilities == {"allocation", "alignment", "adaptation"}


def test_quick_figures_are_finite_and_physical(quick):
    doc = quick[0]
    sc = doc["scenario"]
    hours = sc["days"] * 24.0
    n = sc["boards"]
    for name, s in doc["strategies"].items():
        seeds = s["per_seed"]
        for key in (*PHYSICAL, "coordination_j", "radio_j", "ot_j", "policy_j"):
            assert all(math.isfinite(v) and v >= 0 for v in seeds[key]), (name, key)
        assert all(v <= n * hours for v in seeds["downtime_h"])
        assert all(v <= hours + 1e-9 for v in seeds["worst_downtime_h"])
        assert all(v <= n * hours for v in seeds["work_h"])
        assert all(1.0 / n - 1e-12 <= v <= 1.0 + 1e-12 for v in seeds["fairness"])
        after_shock = hours - sc["shock_day"] * 24.0
        assert all(v is None or 0 < v <= after_shock for v in seeds["reaction_h"])
        if s["allocation"] == "none":
            assert seeds["shared_wh"] == [0.0, 0.0] and seeds["transfer_lost_wh"] == [0.0, 0.0]
        else:  # something was planned and moved, and its bytes went on the radio
            assert max(seeds["shared_wh"]) > 0 and min(seeds["plans"]) > 0
        talks = s["allocation"] != "none" or s["alignment"] != "off"
        assert (min(seeds["radio_j"]) > 0) if talks else seeds["radio_j"] == [0.0, 0.0]
        assert min(seeds["policy_j"]) > 0


def test_quick_books_balance(quick):
    doc = quick[0]
    for name, s in doc["strategies"].items():
        seeds = s["per_seed"]
        for k in range(len(doc["seeds"])):
            parts = sum(
                seeds[p][k]
                for p in (
                    "stored_delta_wh",
                    "used_wh",
                    "spilled_wh",
                    "conversion_lost_wh",
                    "transfer_lost_wh",
                )
            )
            assert seeds["harvest_wh"][k] > 0
            assert parts == pytest.approx(seeds["harvest_wh"][k], rel=1e-9, abs=1e-6), name
    assert doc["max_balance_error_wh"] < 1e-6


@pytest.fixture(scope="module")
def runtime_parts():
    from otswarm.energy import load_profile
    from otswarm.policy import Policy

    return Policy.load_default("harvest"), load_profile("rpi4")


def test_same_seed_same_numbers_other_seed_other_numbers(runtime_parts, tmp_path):
    policy, profile = runtime_parts
    sc = scenario.Scenario.quick()
    s = strategies.Strategy("ot-unbalanced", "all", "drift")
    a, b = (simulate.run(sc, scenario.draw(sc, 3), s, policy, profile, tmp_path) for _ in "ab")
    other = simulate.run(sc, scenario.draw(sc, 4), s, policy, profile, tmp_path)
    for key in ("soc", "drawn_duty", "work_h", "down_h"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert a.books == b.books
    assert not np.array_equal(a.soc, other.soc)


def _one_board(**changes) -> Fleet:
    sc = replace(scenario.Scenario.quick(), boards=2)
    drawn = scenario.draw(sc, 0)
    boards = tuple(replace(b, config=replace(b.config, **changes)) for b in drawn.boards)
    return Fleet(replace(drawn, boards=boards), restart_soc=0.1)


def test_full_battery_spills_and_the_books_say_so():
    fleet = _one_board(initial_soc=1.0, solar_peak_w=30.0, cloudiness=0.0, harvest_drop_at_s=-1.0)
    fleet.draw = replace(fleet.draw, weather=np.ones_like(fleet.draw.weather))
    fleet.advance(12 * 3600.0, 300.0, np.zeros(2))  # noon, duty 0: surplus, nowhere to go
    books = fleet.books
    assert books.harvest == pytest.approx(2 * 30.0 * 300.0, rel=1e-3)  # sin(pi/2) at noon
    assert books.spilled == pytest.approx(books.harvest - books.used) and books.spilled > 0
    assert abs(fleet.balance_error_j()) < 1e-6
    sent = fleet.transfer(0, 1, 500.0, loss=0.2)  # into a full battery: all of it spills
    assert sent == pytest.approx(500.0)
    assert fleet.books.transfer_lost == pytest.approx(100.0)
    assert abs(fleet.balance_error_j()) < 1e-6


def test_empty_battery_at_night_goes_down_and_boots_again_in_the_sun():
    fleet = _one_board(initial_soc=0.001, cloudiness=0.0, harvest_drop_at_s=-1.0)
    fleet.draw = replace(fleet.draw, weather=np.ones_like(fleet.draw.weather))
    fleet.advance(0.0, 300.0, np.ones(2))  # midnight: the battery empties within the step
    assert not fleet.up.any() and (fleet.down_h > 0).all() and (fleet.down_h < 300 / 3600).all()
    assert (fleet.work_h > 0).all()  # it ran for the part of the step its charge covered
    t = 300.0
    while not fleet.up.all() and t < 86400.0:
        fleet.advance(t, 300.0, np.ones(2))
        t += 300.0
    assert 6 * 3600.0 < t < 18 * 3600.0 and (fleet.soc() >= 0.1).all()
    assert abs(fleet.balance_error_j()) < 1e-6


def test_statistics_intervals_and_verdicts():
    s = stats.summary([1.0, 2.0, 3.0, None])
    assert s["n"] == 3 and s["mean"] == 2.0
    assert s["hi"] - s["mean"] == pytest.approx(4.302652729911275 / math.sqrt(3))
    assert stats.paired([3, 4, 5], [1, 2, 3.5], higher_is_better=True)["verdict"] == "better"
    assert stats.paired([3, 4, 5], [1, 2, 3.5], higher_is_better=False)["verdict"] == "worse"
    assert stats.paired([1, 2, 3], [2, 1, 3.1], True)["verdict"] == "no measurable difference"
    assert stats.best({"a": 1.0, "b": None, "c": 0.5}, higher_is_better=False) == "c"
    assert stats.best({"a": None}, True) is None
    assert metrics.jain(np.array([1.0, 1.0, 1.0])) == 1.0
    assert metrics.jain(np.array([3.0, 0.0, 0.0])) == pytest.approx(1 / 3)


def test_strategy_refuses_an_unknown_choice():
    with pytest.raises(ValueError, match="ot-magic"):
        strategies.Strategy("ot-magic", "off", "fixed")


def test_balanced_variant_scales_the_long_side():
    s, d = np.array([10.0, 30.0]), np.array([5.0, 5.0])
    loss = np.full((2, 2), 0.2)
    s2, d2 = strategies._balanced(s, d, loss)
    assert s2.sum() == pytest.approx(d2.sum() / 0.8) and s2[1] / s2[0] == pytest.approx(3.0)


def test_bench_forwards_the_targets_own_options():
    args = argparse.Namespace(
        json=None,
        script_args="",
        options=["--quick", "--json", "f.json", "--boards", "3", "--script-args", "--days 2"],
    )
    assert split_options(args) == ("f.json", ["--days", "2", "--quick", "--boards", "3"])
    old = argparse.Namespace(json="g.json", script_args="--quick --sizes 16", options=[])
    assert split_options(old) == ("g.json", ["--quick", "--sizes", "16"])


@pytest.mark.parametrize(
    ("flag", "value"), [("--boards", "1"), ("--days", "0"), ("--seeds", "0"), ("--jobs", "0")]
)
def test_bad_sizes_are_refused_with_a_message(flag, value):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_outcomes.py"), flag, value],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 2 and f"{flag} must be at least" in result.stderr


def test_bench_passes_help_to_the_target():
    result = subprocess.run(
        [sys.executable, "-m", "otswarm.cli", "bench", "outcomes", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert "--boards" in result.stdout and "--quick" in result.stdout
