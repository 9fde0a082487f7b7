"""A swarm of real agent processes on simulated boards, and the fleet CLI run against
it, for the fleet tests (not a test module). The demo's own machinery starts them."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from otswarm.demo.boards import BOOT_HOUR, board_configs, start_simulated_boards
from otswarm.demo.configs import write_agent_config
from otswarm.demo.processes import AgentProcess

REPO_ROOT = Path(__file__).resolve().parents[1]
TELEMETRY_S = 1.0
TICK_S = 0.5


def start_swarm(
    stack: contextlib.ExitStack, folder: Path, urls: list[str], timeout_s: float = 120.0
) -> list[AgentProcess]:
    """One agent per entry of ``urls`` (its broker), swarm ``demo``, ids ``fleet-00``...,
    each on its own simulated MCU; returns once every agent has opened its MCU."""
    processes = []
    for index, url in enumerate(urls):
        agent_id = f"fleet-{index:02d}"
        config = write_agent_config(
            folder / agent_id, agent_id, index, str(folder / agent_id / "mcu"), url, TICK_S,
            BOOT_HOUR, 8, telemetry_s=TELEMETRY_S,
        )  # fmt: skip
        processes.append(AgentProcess(agent_id, config, folder / agent_id / "stdout.log"))
    for process in processes:
        process.start()
    stack.callback(_stop, processes)
    deadline = time.monotonic() + timeout_s
    for process in processes:
        log = process.config_path.parent / "agent.log"
        while not (log.exists() and '"event": "bridge_opening"' in log.read_text()):
            assert process.alive, (process.config_path.parent / "stdout.log").read_text()
            assert time.monotonic() < deadline, f"{process.agent_id} did not start"
            time.sleep(0.2)
    configs = board_configs(len(processes), 240.0, 3600.0, 1.0)
    links = [p.config_path.parent / "mcu" for p in processes]
    start_simulated_boards(configs, links, stack)
    return processes


def _stop(processes: list[AgentProcess]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(10.0)


def otswarm(*args: str, timeout: float = 60.0, **env: str) -> subprocess.CompletedProcess:
    """``python -m otswarm.cli ARGS`` from this tree (``env`` added to the environment);
    its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "otswarm.cli", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
    )  # fmt: skip


def fleet_json(url: str, *extra: str) -> dict:
    """One ``otswarm fleet --once --json`` snapshot of the broker at ``url``."""
    result = otswarm("fleet", "--broker", url, "--once", "--json", "--wait", "2", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_for_fleet(url: str, agents: set[str], condition, timeout_s: float = 60.0) -> dict:
    """Snapshots until ``agents`` are all there and ``condition(entry)`` holds for each."""
    deadline = time.monotonic() + timeout_s
    while True:
        snap = fleet_json(url)
        seen = snap["agents"]
        if agents <= set(seen) and all(condition(seen[a]) for a in agents):
            return snap
        assert time.monotonic() < deadline, json.dumps(seen, indent=1)
        time.sleep(1.0)
