"""The demo's agent processes from any working directory, and how their endings are told."""

from __future__ import annotations

import html
import sys
import time
from pathlib import Path

from otswarm.demo.clock import BoardClock
from otswarm.demo.html import write_html_report
from otswarm.demo.plots import PLOTS_HINT, plots_available
from otswarm.demo.processes import AgentProcess


def test_an_agent_started_with_relative_paths_reads_its_config_from_any_cwd(tmp_path, monkeypatch):
    """Relative paths are resolved before the child starts in its own folder: the agent
    reads this very file (its error is about the content, not a missing file), and it
    ended a non-negative time after it started."""
    monkeypatch.chdir(tmp_path)
    folder = Path("out/demo/agent-00")
    folder.mkdir(parents=True)
    (folder / "agent.toml").write_text("[agent]\nid = 'a'\ntick_period_s = -1\n")
    process = AgentProcess("a", folder / "agent.toml", folder / "stdout.log")
    assert process.config_path.is_absolute() and process.log_path.is_absolute()
    process.start()
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    ending = process.poll()
    log = (folder / "stdout.log").read_text()
    assert ending is not None and ending.returncode == 1, log
    assert ending.after_s >= 0.0 and ending.how == "failed with exit status 1 (see its log)"
    assert "tick_period_s" in log and "No such file" not in log
    assert (folder / "agent.pid").read_text().strip() == str(process.pid)


def _report() -> dict:
    return {
        "summary": {
            "alignment_spread_start": None,
            "alignment_spread_end": None,
            "energy_moved_j": 0.0,
            "stale_policy_events": 0,
        },
        "checks": {"allocation exactly once per round": True},
        "events": [],
        "agents": {},
        "energy_components": ["idle"],
        "energy_clock": BoardClock(240.0, 0.0).describe(),
        "rounds": [],
        "duration_s": 1.0,
        "broker": "mqtt://127.0.0.1:1",
        "tick_period_s": 0.5,
    }


def test_without_matplotlib_the_report_has_no_figures_and_says_how_to_get_them(
    tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    assert plots_available() is False
    page = write_html_report(_report(), {}, tmp_path, plots=False).read_text()
    assert html.escape(PLOTS_HINT) in page and "<img" not in page
    assert "energy clock: every energy_j figure is in joules on the simulated boards" in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    assert "pip install 'otswarm[report]'" in PLOTS_HINT


def test_with_matplotlib_the_report_draws_its_figures(tmp_path):
    assert plots_available() is True
    report = {**_report(), "started_at": 0.0, "harvest_drop": None}
    page = write_html_report(report, {}, tmp_path, plots=True).read_text()
    assert "<img src='swarm.png'" in page and html.escape(PLOTS_HINT) not in page
    assert (tmp_path / "swarm.png").stat().st_size > 0
    assert (tmp_path / "energy.png").stat().st_size > 0
