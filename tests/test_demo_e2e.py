"""End to end: ``otswarm demo`` as a user runs it, against a real Mosquitto broker.

Each test runs the demo as a child process (``python -m otswarm.cli demo``) with
four agent processes, each on its own simulated MCU behind a pty, and reads the
report it writes. Runs are short (tens of seconds); what is checked is the
story the report tells, never how fast it was told.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from otswarm.demo.orchestrator import DemoSettings
from otswarm.link.broker import EmbeddedBroker

REPO_ROOT = Path(__file__).resolve().parents[1]
AGENTS = 4


def _start_demo(out: Path, broker_url: str, duration_s: float) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "otswarm.cli",
            "demo",
            "--agents",
            str(AGENTS),
            "--duration",
            str(duration_s),
            "--broker",
            broker_url,
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "200"},
    )


def _finish(demo: subprocess.Popen, timeout_s: float = 120) -> tuple[dict, str]:
    output, _ = demo.communicate(timeout=timeout_s)
    assert demo.returncode == 0, output
    return json.loads((Path(demo.args[-1]) / "report.json").read_text()), output


def _ticks(out: Path, agent: str) -> int:
    path = out / agent / "run.jsonl"
    return path.read_text().count("\n") if path.exists() else 0


def _wait_for_ticks(out: Path, agents: list[str], ticks: int, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(_ticks(out, a) >= ticks for a in agents):
            return
        time.sleep(0.2)
    raise AssertionError(f"agents did not reach {ticks} ticks: {[_ticks(out, a) for a in agents]}")


IDS = [f"agent-{i:02d}" for i in range(AGENTS)]


def _policy_spread_at_end(out: Path, ticks: int = 5) -> float:
    """Max pairwise W1 of the agents' own policy outputs, each averaged over its last ticks."""
    import numpy as np

    from otswarm.coordination.quantile import max_pairwise_w1

    means = []
    for agent in IDS:
        lines = (out / agent / "run.jsonl").read_text().splitlines()
        probs = [json.loads(line)["policy_probs"] for line in lines]
        means.append(np.mean([p for p in probs if p][-ticks:], axis=0))
    return max_pairwise_w1(means, np.linspace(0.0, 1.0, 5))


def test_four_agent_demo_report_tells_the_whole_story(mqtt_broker, tmp_path):
    out = tmp_path / "demo"
    report, output = _finish(_start_demo(out, mqtt_broker.url, duration_s=25))

    assert sorted(report["agents"]) == IDS
    summary = report["summary"]
    # anchored consensus: the spread shrinks while the policies agree, and at the end it is
    # below the start or, when the boards' policies have come apart after the harvest drop
    # (low batteries ask for less), below the policies' own disagreement
    spreads = [r["alignment_spread"] for r in report["rounds"] if r["members_alive"] > 1]
    assert min(spreads) < 0.5 * summary["alignment_spread_start"]
    assert summary["alignment_spread_end"] < max(
        summary["alignment_spread_start"], _policy_spread_at_end(out)
    )
    assert all(check for check in report["checks"].values()), report["checks"]
    for agent in report["agents"].values():
        assert agent["process"]["returncode"] == 0
        assert agent["ledger_consistent"] is True
        assert agent["allocation"]["plans_executed_twice"] == 0
        spent = {c: agent["energy_j"].get(c, 0.0) for c in ("policy", "ot", "mqtt_tx", "idle")}
        assert all(joules > 0 for joules in spent.values()), spent
        assert agent["idle_before_boards_j"] > 0  # the start-up idle, kept apart
    assert report["energy_clock"]["name"] == "board"
    assert report["energy_clock"]["board_s_per_wall_s"] == DemoSettings().acceleration
    for round_ in report["rounds"]:
        assert len(round_["planners"]) <= 1
    # energy leaves some batteries and arrives in others, less what the transfers lose
    # (converter, line, radio) and what the last round's stop cut off
    given = sum(a["allocation"]["given_j"] for a in report["agents"].values())
    received = sum(a["allocation"]["received_j"] for a in report["agents"].values())
    assert 0 < received < given
    assert (out / "report.html").exists() and (out / "swarm.png").stat().st_size > 10_000
    assert "coordination per agent" in output


def test_a_killed_agent_is_reported_and_the_others_go_on(mqtt_broker, tmp_path):
    out = tmp_path / "demo"
    demo = _start_demo(out, mqtt_broker.url, duration_s=25)
    victim = IDS[1]
    _wait_for_ticks(out, IDS, ticks=5)
    os.kill(int((out / victim / "agent.pid").read_text()), signal.SIGKILL)
    killed_at = time.time()
    report, _ = _finish(demo)

    assert sorted(report["agents"]) == IDS
    assert "killed by SIGKILL from outside" in report["agents"][victim]["process"]["ended"]
    assert any(victim in event for event in report["events"])
    later = [r for r in report["rounds"] if r["t"] > killed_at + 3 * report["tick_period_s"]]
    assert later, "the run ended right after the kill"
    assert all(r["members_alive"] == AGENTS - 1 for r in later)
    for agent in set(IDS) - {victim}:
        assert report["agents"][agent]["process"]["returncode"] == 0


def test_agents_reconnect_after_the_broker_restarts(tmp_path):
    out = tmp_path / "demo"
    broker = EmbeddedBroker().start()
    try:
        demo = _start_demo(out, broker.url, duration_s=30)
        _wait_for_ticks(out, IDS, ticks=5)
        broker.stop()
        time.sleep(2.0)
        restarted_at = time.time()
        broker = EmbeddedBroker(port=broker.port).start()
        report, _ = _finish(demo)
    finally:
        broker.stop()
    assert sorted(report["agents"]) == IDS
    for agent_id in IDS:
        lines = [
            json.loads(line) for line in (out / agent_id / "run.jsonl").read_text().splitlines()
        ]
        after = [line for line in lines if line["t"] > restarted_at + 5.0]
        assert after, f"{agent_id} stopped ticking after the restart"
        # it hears its peers again: consensus with the three others
        assert max(line["peers"] for line in after) == AGENTS - 1, agent_id
        assert report["agents"][agent_id]["process"]["returncode"] == 0
