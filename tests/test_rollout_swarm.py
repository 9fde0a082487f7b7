"""``otswarm rollout`` against four real agent processes on a real Mosquitto.

Each agent runs ``otswarm agent`` with its own simulated MCU on a pty and trusts
the operator's public key. The boards start at 35 % charge in the evening, on the
wall clock, so their batteries stay below half during the module: the gated test
model (tests/fixtures/rollout/make_models.py) gives no distribution there. The
tests run in order on one swarm: bad models, a broken canary, then a good rollout
and a board that was away during it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from link_support import wait_until
from rollout_support import GATED, HARVEST, SPREAD, UNIFORM, rollout_of, write_keys

from otswarm.agent.telemetry import file_sha256
from otswarm.demo.configs import to_toml
from otswarm.demo.processes import AgentProcess
from otswarm.firmware_bridge.simulator.pty_server import start_simulator_on_pty
from otswarm.link import MqttLinkConfig
from otswarm.rollout.operator_client import OperatorClient

REPO_ROOT = Path(__file__).resolve().parents[1]
SWARM = "rollout-e2e"
AGENTS = ("r0", "r1", "r2", "r3")
MAX_MODEL_BYTES = 16384


class Swarm:
    """The running agents of the module, their folders and the operator's keys."""

    def __init__(self, root: Path, broker) -> None:
        self.root = root
        self.broker = broker
        self.key, self.private, self.public = write_keys(root / "keys")
        _, self.other_private, _ = write_keys(root / "keys", "someone-else")
        self.stack = contextlib.ExitStack()
        self.processes: dict[str, AgentProcess] = {}

    def start(self, agent: str, index: int) -> AgentProcess:
        device, handle = start_simulator_on_pty(
            in_process=True, seed=index, time_acceleration=1.0, initial_soc=0.35,
            start_time_of_day_s=20 * 3600.0,
        )  # fmt: skip
        self.stack.callback(handle.stop)
        folder = self.root / agent
        folder.mkdir()
        tables = {
            "agent": {"id": agent, "swarm": SWARM, "tick_period_s": 0.5, "seed": index,
                      "log_file": folder / "agent.log", "record_file": folder / "run.jsonl"},
            "link": {"url": self.broker.url, "heartbeat_s": 0.5},
            "bridge": {"device": device, "clock": "mcu", "mcu_boot_hour": 20.0},
            "policy": {"model": "harvest", "operator_key": self.public,
                       "max_model_bytes": MAX_MODEL_BYTES},
            "energy": {"ledger_dir": folder, "profile": "rpi4"},
        }  # fmt: skip
        config = folder / "agent.toml"
        config.write_text(to_toml(tables))
        process = AgentProcess(agent, config, folder / "stdout.log")
        process.start()
        self.stack.callback(lambda: (process.terminate(), process.wait(15)))
        self.processes[agent] = process
        return process

    def records(self, agent: str) -> list[dict]:
        path = self.root / agent / "run.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines]

    def wait_ticking(self, agent: str, more: int = 2, timeout: float = 90.0) -> None:
        seen = len(self.records(agent))
        assert wait_until(lambda: len(self.records(agent)) >= seen + more, timeout, 0.1), (
            agent, (self.root / agent / "stdout.log").read_text()[-3000:],
        )  # fmt: skip

    def log_events(self, agent: str) -> list[dict]:
        lines = (self.root / agent / "agent.log").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def rollout(self, model: Path, *options: str, key: Path | None = None) -> tuple[int, dict]:
        """Run ``otswarm rollout --json``; its exit status and its JSON."""
        command = [
            sys.executable, "-m", "otswarm.cli", "rollout", str(model), "--broker",
            self.broker.url, "--swarm", SWARM, "--signing-key", str(key or self.private),
            "--timeout", "30", "--json", *options,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
        assert done.stdout.strip(), done.stderr
        return done.returncode, json.loads(done.stdout)

    def client(self) -> OperatorClient:
        return OperatorClient(MqttLinkConfig(self.broker.url, SWARM, "operator"))


@pytest.fixture(scope="module")
def swarm(mqtt_broker, ot_warm, tmp_path_factory):
    """Four agents ticking (``ot_warm`` fills the Numba cache first, so the agents load
    their kernels instead of compiling them four times at once)."""
    swarm = Swarm(tmp_path_factory.mktemp("rollout"), mqtt_broker)
    with swarm.stack:
        for index, agent in enumerate(AGENTS):
            swarm.start(agent, index)
        for agent in AGENTS:
            swarm.wait_ticking(agent, timeout=180.0)
        with swarm.client() as client:
            assert wait_until(lambda: client.online_agents() == list(AGENTS), 30)
        yield swarm


def _hash(path: Path) -> str:
    return file_sha256(path).hex()[:16]


def _assert_all_running(swarm: Swarm, model: Path) -> None:
    """Every agent process is alive, still ticks, and decides with ``model``."""
    for agent in AGENTS:
        assert swarm.processes[agent].alive, agent
        swarm.wait_ticking(agent)
        last = swarm.records(agent)[-1]
        assert last["policy_hash"] == _hash(model), (agent, last)
        assert last["duty"] is not None and not last["errors"], (agent, last)


def _bad_model(tmp_path: Path, kind: str) -> tuple[Path, list[str]]:
    card = str(UNIFORM.with_name("uniform_int8.card.json"))
    if kind == "corrupt":
        path = tmp_path / "corrupt.tflite"
        path.write_bytes(b"TFL3" + bytes(range(256)) * 4)
        return path, ["--card", card]
    if kind == "too_large":
        path = tmp_path / "large.tflite"
        path.write_bytes(UNIFORM.read_bytes() + bytes(MAX_MODEL_BYTES))
        return path, ["--card", card]
    if kind == "untrusted_key":
        return UNIFORM, []
    return SPREAD, []  # "contract": another observation layout, with its own card


@pytest.mark.parametrize("kind", ["corrupt", "too_large", "untrusted_key", "contract"])
def test_a_bad_model_is_refused_by_every_agent_with_its_reason(swarm, kind, tmp_path):
    model, options = _bad_model(tmp_path, kind)
    key = swarm.other_private if kind == "untrusted_key" else None
    code, result = swarm.rollout(model, *options, key=key)
    assert code == 1, result
    assert sorted(result["agents"]) == list(AGENTS)
    for agent, answer in result["agents"].items():
        assert (answer["outcome"], answer["code"]) == ("refused", kind), (agent, answer)
        assert answer["policy"] == _hash(HARVEST)  # still on its own policy
        refusals = [e for e in swarm.log_events(agent) if e.get("event") == "rollout_refused"]
        assert refusals and refusals[-1]["code"] == kind, refusals[-1:]
    _assert_all_running(swarm, HARVEST)


def test_an_unsigned_rollout_is_refused_by_every_agent(swarm):
    import dataclasses

    unsigned = dataclasses.replace(rollout_of(swarm.key, UNIFORM, SWARM), key_id=bytes(8),
                                   signature=b"")  # fmt: skip
    with swarm.client() as client:
        client.publish(unsigned)
        assert wait_until(
            lambda: all(
                (s := client.statuses.get(a)) is not None and s.issued_us == unsigned.issued_us
                for a in AGENTS
            ),
            30,
        )
        assert {client.statuses[a].code for a in AGENTS} == {"unsigned"}
    _assert_all_running(swarm, HARVEST)


def test_a_canary_rollout_of_a_broken_model_stops_at_the_canaries(swarm):
    code, result = swarm.rollout(GATED, "--canary", "1", "--wait", "2")
    assert code == 1 and result["stopped_at_canaries"], result
    canary, *others = AGENTS
    answer = result["agents"][canary]
    assert (answer["outcome"], answer["code"], answer["canary"]) == ("refused", "smoke", True)
    assert all(result["agents"][a]["outcome"] == "not_asked" for a in others), result
    with swarm.client() as client:  # the others never answered it: they never saw it
        statuses = dict(client.statuses)
    assert all(statuses[a].issued_us != result["issued_us"] for a in others if a in statuses)
    for agent in others:
        assert not any(e.get("rollout") == result["model"] for e in swarm.log_events(agent))
    _assert_all_running(swarm, HARVEST)


def test_a_rollout_reaches_all_four_through_canaries_and_a_late_board_gets_it(swarm):
    code, result = swarm.rollout(UNIFORM, "--canary", "2", "--wait", "2")
    assert code == 0, result
    assert {a: r["outcome"] for a, r in result["agents"].items()} == dict.fromkeys(
        AGENTS, "adopted"
    )
    assert [a for a, r in result["agents"].items() if r["canary"]] == list(AGENTS[:2])
    assert {r["policy"] for r in result["agents"].values()} == {_hash(UNIFORM)}
    _assert_all_running(swarm, UNIFORM)
    for agent in AGENTS:  # the uniform policy decides now
        assert swarm.records(agent)[-1]["policy_probs"] == pytest.approx([0.2] * 5, abs=0.01)

    late = swarm.start("r4", 4)  # a board that was away: the retained rollout is there
    swarm.wait_ticking("r4", more=3)
    assert late.alive
    assert wait_until(lambda: swarm.records("r4")[-1]["policy_hash"] == _hash(UNIFORM), 30)
    adopted = [e for e in swarm.log_events("r4") if e.get("event") == "rollout_adopted"]
    assert adopted and adopted[-1]["rollout"] == _hash(UNIFORM)
