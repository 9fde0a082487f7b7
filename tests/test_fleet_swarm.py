"""The fleet commands against a running swarm: four real agent processes on simulated
boards and a real Mosquitto; ``otswarm fleet --once --json``, the metrics endpoint,
``otswarm profile --broker``, and an agent killed with SIGKILL.

The swarm is shared by the module's tests (started once); the SIGKILL test runs last.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from fleet_swarm_support import (
    REPO_ROOT,
    TELEMETRY_S,
    TICK_S,
    fleet_json,
    otswarm,
    start_swarm,
    wait_for_fleet,
)
from prometheus_client.parser import text_string_to_metric_families

from otswarm.agent.telemetry import file_sha256
from otswarm.link.broker import EmbeddedBroker, free_port
from otswarm.policy import Policy

AGENTS = {f"fleet-{i:02d}" for i in range(4)}
# the rpi4 profile: idle 2.7 W, 6.4 W with every core busy; an agent books its idle
# baseline and the CPU of its own stages, so it sits a little above idle
PLAUSIBLE_W = (2.7, 6.4)


def _running(entry) -> bool:
    return entry["online"] and entry["power_w"] is not None and entry["uptime_s"] > 2.0


@pytest.fixture(scope="module")
def swarm(tmp_path_factory):
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker(prefer="mosquitto"))
        folder = tmp_path_factory.mktemp("fleet-swarm")
        processes = start_swarm(stack, folder, [broker.url] * 4)
        wait_for_fleet(broker.url, AGENTS, _running, timeout_s=90)
        yield broker, {p.agent_id: p for p in processes}


def test_fleet_once_json_sees_every_agent(swarm):
    broker, _ = swarm
    snap = wait_for_fleet(broker.url, AGENTS, _running)  # no --swarm: the only one, found
    assert snap["swarm"] == "demo" and snap["broker"] == broker.url
    assert set(snap["agents"]) == AGENTS and snap["online"] == 4
    shipped = file_sha256(Policy.load_default("harvest").model_path).hex()
    for agent, entry in snap["agents"].items():
        assert PLAUSIBLE_W[0] <= entry["power_w"] <= PLAUSIBLE_W[1], (agent, entry)
        assert {"idle", "policy", "ot", "mqtt_tx", "serial"} <= set(entry["joules"]), agent
        assert entry["spent_j"] >= 2.7 * entry["uptime_s"] * 0.9
        assert 0.0 <= entry["battery_soc"] <= 1.0
        assert entry["policy_sha256"] == shipped and entry["board"] == "rpi4"
        assert entry["telemetry_age_s"] < 3 * TELEMETRY_S + 2.0
        assert entry["seen_ago_s"] < 3.0


def test_fleet_asked_for_another_swarm_shows_none(swarm):
    broker, _ = swarm
    result = otswarm("fleet", "--broker", broker.url, "--swarm", "other", "--once", "--json",
                     "--wait", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["agents"] == {}


def _scrape(port: int, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
                return reply.read().decode()
        except OSError:
            assert time.monotonic() < deadline, "the metrics endpoint never answered"
            time.sleep(0.3)


def _samples(text: str) -> dict:
    """``{(name, agent, component): value}`` of an OpenMetrics text, parsed by prometheus_client."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            assert s.labels.get("swarm") == "demo"
            samples[(s.name, s.labels.get("agent"), s.labels.get("component"))] = s.value
    return samples


def test_metrics_endpoint_is_scraped_and_parsed(swarm):
    broker, _ = swarm
    port = free_port()
    viewer = subprocess.Popen(
        [sys.executable, "-m", "otswarm.cli", "fleet", "--broker", broker.url, "--swarm",
         "demo", "--metrics-port", str(port), "--duration", "60", "--wait", "2"],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    idle = {agent: ("otswarm_energy_joules_total", agent, "idle") for agent in AGENTS}
    up = {agent: ("otswarm_agent_up", agent, None) for agent in AGENTS}
    try:
        before = _samples(_scrape(port))
        deadline = time.monotonic() + 30
        while True:  # until every counter moved on, with every agent up in the same scrape
            time.sleep(TELEMETRY_S)
            samples = _samples(_scrape(port))
            if all(samples[idle[a]] > before[idle[a]] and samples[up[a]] for a in AGENTS):
                break
            assert time.monotonic() < deadline, samples
    finally:
        viewer.terminate()
        viewer.wait(10)
    for agent in AGENTS:
        assert samples[up[agent]] == 1.0 and before[idle[agent]] > 0
        watts = samples[("otswarm_power_watts", agent, None)]
        assert PLAUSIBLE_W[0] <= watts <= PLAUSIBLE_W[1]
        assert 0.0 <= samples[("otswarm_battery_soc", agent, None)] <= 1.0
        assert samples[("otswarm_policy_info", agent, None)] == 1.0


def test_fleet_profile_gathers_every_agent(swarm, tmp_path):
    broker, _ = swarm
    duration = 6.0
    result = otswarm("profile", "--broker", broker.url, "--swarm", "demo", "--duration",
                     str(duration), "--out", str(tmp_path), "--wait", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads((tmp_path / "energy_report.json").read_text())
    assert report["swarm"] == "demo" and report["window_s"] >= duration
    assert set(report["agents"]) == AGENTS
    for agent, entry in report["agents"].items():
        # from the first message heard (the retained one, sent about a period before the
        # window opened: messages go out at the first tick a period after the last one)
        # to the last one in the window
        window, late = report["window_s"], TELEMETRY_S + 2 * TICK_S
        assert duration - 2 * TELEMETRY_S - 1.0 <= entry["observed_s"] <= window + late
        mean_w = entry["spent_j"] / entry["duration_s"]
        assert PLAUSIBLE_W[0] * 0.9 <= mean_w <= PLAUSIBLE_W[1], (agent, entry)
        assert entry["board"] == "rpi4"
        assert f"{agent}: observed" in result.stdout
    assert (tmp_path / "fleet-demo.ledger.sqlite").is_file()
    # the same report as on ledger files: PNG and HTML with every agent's table
    assert (tmp_path / "energy_report.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    page = (tmp_path / "energy_report.html").read_text()
    assert "data:image/png;base64," in page and all(agent in page for agent in AGENTS)


def test_an_agent_killed_with_sigkill_is_shown_offline(swarm):
    broker, processes = swarm
    victim = processes["fleet-03"]
    os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait(10).returncode == -signal.SIGKILL
    others = AGENTS - {"fleet-03"}
    deadline = time.monotonic() + 30
    while True:  # until it is offline (the others online in the same snapshot)
        snap = fleet_json(broker.url)
        agents = snap["agents"]
        if not agents["fleet-03"]["online"] and all(agents[a]["online"] for a in others):
            break
        assert time.monotonic() < deadline, agents
        time.sleep(1.0)
    assert set(agents) == AGENTS  # still listed, with its last telemetry
    dead = agents["fleet-03"]
    assert dead["seen_ago_s"] > 1.0 and dead["joules"]["idle"] > 0
