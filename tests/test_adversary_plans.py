"""Attacks on energy sharing, on a real Mosquitto broker (docs/coordination.md, "Trust").

Each attack checks the invariants the allocation must keep: plans are executed
only from the planner each receiver elects; no energy goes to or from an agent
that is not a live member or made no offer; a receiver takes in only what its
supplier reports it sent, so swarm-wide received <= given.

- real agent processes (``otswarm demo`` against the test's broker: four agents,
  each on its simulated MCU) while a non-member and a member attack on the
  anonymous broker the demo uses;
- allocation rounds on MQTT links with the swarm HMAC key, where the attacker is
  a member, even the smallest id, and a non-member without the key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from allocation_support import run_round

from otswarm.coordination.rounds import AllocationRound
from otswarm.link import MqttLink, MqttLinkConfig
from otswarm.link.topics import topic
from otswarm.summaries import (
    AllocationPlan,
    EnergyOffer,
    Heartbeat,
    Kind,
    State,
    Transfer,
    TransferReport,
    decode,
    encode,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
HUGE_J = 1e30
KEY = b"swarm-key-for-the-adversary-tests"


class RawPublisher:
    """Publishes hand-made summaries under any id (what anyone on an anonymous broker
    can do), with a valid header: increasing sequence and timestamp, optional key."""

    def __init__(self, url: str, swarm: str, key: bytes | None = None) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.swarm, self.key = swarm, key
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect(host, int(port))
        self.client.loop_start()
        self.sequence = 0

    def send(self, agent: str, message, round_: int) -> None:
        self.sequence += 1
        payload = encode(message, agent=agent, round=round_, sequence=self.sequence,
                         timestamp_us=int(time.time() * 1e6), key=self.key)  # fmt: skip
        qos = 1 if message.KIND != Kind.ALLOCATION_PLAN else 2
        self.client.publish(topic(self.swarm, agent, message.KIND), payload, qos=qos,
                            retain=message.KIND == Kind.STATE).wait_for_publish(5)  # fmt: skip

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class PlanWatcher:
    """Every allocation plan published on the swarm, decoded, by sender."""

    def __init__(self, url: str, swarm: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.plans: list[tuple[str, AllocationPlan]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect(host, int(port))
        self.client.subscribe(f"otswarm/v1/{swarm}/+/allocation_plan", qos=2)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        envelope = decode(message.payload)
        self.plans.append((envelope.header.agent, envelope.message))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# -- real agent processes on the anonymous broker ---------------------------------------
AGENTS = [f"agent-{i:02d}" for i in range(4)]
MEMBER = "zz-member"  # a member: it says it is online, beats, offers nothing
MUTE = "-mute"  # a member with the smallest id: everyone elects it, and it never plans


def _attack(url: str, stop: threading.Event, period_s: float = 0.5) -> int:
    """Every half round, every attack: returns how many rounds it attacked."""
    raw = RawPublisher(url, "demo")
    for member in (MEMBER, MUTE):
        raw.send(member, State(True, 1.0), 0)
    rounds = 0
    try:
        while not stop.wait(period_s / 2):
            r = int(time.time() // period_s)
            for member in (MEMBER, MUTE):
                raw.send(member, Heartbeat(1.0), r)
                raw.send(member, EnergyOffer(0.0, 0.0), r)  # in every view
            raw.send("-", EnergyOffer(HUGE_J, 0.0), r)  # not a member: would be the planner
            raw.send("ghost", EnergyOffer(0.0, HUGE_J), r)  # not a member: a bottomless sink
            steal = (Transfer("agent-01", "sink-x", 2900.0), Transfer("agent-02", "-", HUGE_J))
            feed = (Transfer("-", "agent-01", HUGE_J), Transfer("ghost", "agent-02", HUGE_J))
            raw.send("-", AllocationPlan(r - 1, "-", steal + feed), r)  # planner "-"
            raw.send("ghost", AllocationPlan(r - 1, "agent-00", steal), r)  # in the planner's name
            raw.send(MEMBER, AllocationPlan(r - 1, "-", steal), r)  # a member, naming "-"
            raw.send(MEMBER, AllocationPlan(r - 1, "agent-00", steal), r)  # ... the planner
            ask = (Transfer("agent-01", MEMBER, HUGE_J), Transfer("agent-02", MEMBER, HUGE_J))
            raw.send(MEMBER, AllocationPlan(r - 1, MEMBER, ask), r)  # its own, not elected
            for target in AGENTS:  # "I sent you 1e30 J": from a non-member and a member
                for liar in ("-", MEMBER):
                    report = TransferReport(r - 2, "agent-00", (Transfer(liar, target, HUGE_J),))
                    raw.send(liar, report, r)
            rounds += 1
    finally:
        raw.close()
    return rounds


def test_agent_processes_run_only_real_plans_and_cover_for_a_mute_one(mqtt_broker, tmp_path):
    out = tmp_path / "demo"
    watcher = PlanWatcher(mqtt_broker.url, "demo")
    stop = threading.Event()
    attacked = []
    attacker = threading.Thread(target=lambda: attacked.append(_attack(mqtt_broker.url, stop)))
    demo = subprocess.Popen(
        [sys.executable, "-m", "otswarm.cli", "demo", "--agents", str(len(AGENTS)),
         "--duration", "25", "--broker", mqtt_broker.url, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    attacker.start()
    try:
        output, _ = demo.communicate(timeout=240)
    finally:
        stop.set()
        attacker.join()
        watcher.close()
    assert demo.returncode == 0, output
    assert attacked and attacked[0] > 20  # the attack ran through the run
    report = json.loads((out / "report.json").read_text())
    assert sorted(report["agents"]) == AGENTS
    # plans only from real agents, never "-", "ghost" or the members; once all four
    # run, mostly from the smallest, agent-00 (while they start, and when a loaded
    # machine delays agent-00 past two rounds, agent-01 rightly covers for it)
    executed = {p for r in report["rounds"] for p in r["planners"]}
    assert executed <= set(AGENTS), executed
    later = report["rounds"][5:-2]  # the last two are planned, not executed at the end
    by_smallest = sum(r["planners"] == ["agent-00"] for r in later)
    assert by_smallest >= 0.75 * len(later), [r["planners"] for r in later]
    assert all(len(r["planners"]) <= 1 for r in report["rounds"])
    # no energy to or from non-members: the real planner's plans name only real agents
    real = [plan for sender, plan in watcher.plans if sender in AGENTS]
    assert real, "the real planner published no plan"
    named = {a for plan in real for a in plan.agents()}
    assert named <= set(AGENTS), named
    # the mute member with the smallest id never plans: agent-00 covers for it, and a
    # plan runs in (nearly) every round after the first ones, while agents start;
    # without the cover no plan would run at all
    planned = [bool(r["planners"]) for r in later]
    assert len(report["rounds"]) > 30 and sum(planned) >= 0.9 * len(later), planned
    # energy still moves, and the swarm never takes in more than it gave
    given = sum(a["allocation"]["given_j"] for a in report["agents"].values())
    received = sum(a["allocation"]["received_j"] for a in report["agents"].values())
    assert given > 0
    assert received <= given + 1e-3
    assert report["summary"]["line_loss_j"] == pytest.approx(given - received, abs=1e-6)
    assert all(report["checks"].values()), report["checks"]
    # and every attack was refused, counted, by reason
    refused: dict[str, int] = {}
    for agent in report["agents"].values():
        for reason, count in agent["allocation"]["refused"].items():
            refused[reason] = refused.get(reason, 0) + count
    for reason in ("offer from a non-member", "forged planner", "not the smallest planner",
                   "report without an offer"):  # fmt: skip
        assert refused.get(reason, 0) > 0, (reason, refused)
    log = (out / "agent-01" / "agent.log").read_text()
    assert '"sender": "-"' in log and '"reason": "forged planner"' in log


# -- allocation rounds with the swarm HMAC key: the attacker is a member ---------------
def _link(url: str, swarm: str, name: str, key: bytes | None = KEY) -> MqttLink:
    return MqttLink(MqttLinkConfig(url, swarm, name, hmac_key=key, reconnect_min_s=0.1))


def _wait(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class _Battery:
    """A battery with ``energy_j`` stored and room up to ``capacity_j``."""

    def __init__(self, energy_j: float, capacity_j: float = 1000.0) -> None:
        self.energy_j, self.capacity_j = energy_j, capacity_j

    def transfer(self, joules: float) -> float:
        moved = float(np.clip(joules, -self.energy_j, self.capacity_j - self.energy_j))
        self.energy_j += moved
        return moved


def _keyed_swarm(url: str, swarm: str):
    """Honest a1 (gives 50 J a round) and a2 (asks 40 J), and a member a0 with the key:
    the smallest id, so the one everyone expects to plan."""
    honest = {}
    for name in ("a1", "a2"):
        link = _link(url, swarm, name)
        honest[name] = AllocationRound(link, min_move_per_solve=0.0).start()
        link.start()
    attacker = _link(url, swarm, "a0").start()
    return honest, attacker


def _play(honest, offerers, plans_of, rounds: int = 7):
    """Rounds in which the ``offerers`` (members with the key; the first one is a0)
    offer nothing to give or ask and a0 publishes ``plans_of(r - 1)``; returns every
    honest agent's moves and batteries."""
    batteries = {"a1": _Battery(500.0), "a2": _Battery(100.0)}
    wants = {"a1": (50.0, 0.0), "a2": (0.0, 40.0)}
    moves = {name: [] for name in honest}
    names = {link.agent for link in offerers}
    for r in range(rounds):
        for link in offerers:
            link.publish(EnergyOffer(0.0, 0.0), round=r)
        for allocation in honest.values():
            _wait(lambda a=allocation, r=r: a.view(r) >= names, f"the offers of {r}")
        plans = plans_of(r - 1)
        for plan in plans:
            offerers[0].publish(plan, round=r)
        for name, allocation in honest.items():
            moves[name].append(run_round(allocation, r, *wants[name], batteries[name]))
        published = plans + [m[-1].allocation.plan for m in moves.values()]
        for allocation in honest.values():
            _wait(lambda a=allocation, r=r: a.view(r) >= names | set(honest), f"offers of {r}")
            for plan in filter(None, published):  # before anyone takes round r - 1
                _wait(
                    lambda a=allocation, p=plan: a.holds_plan(p.round, p.planner),
                    f"{plan.planner}'s plan {r - 1}",
                )
    return moves, batteries


def _beyond_the_offers(r: int) -> list[AllocationPlan]:
    """a0's plans: a1's 50 J to a2 x 1e30, or to nobody."""
    if r < 0:
        return []
    if r % 2:
        return [AllocationPlan(r, "a0", (Transfer("a1", "a2", HUGE_J),))]
    return [AllocationPlan(r, "a0", (Transfer("a1", "sink-x", 30.0),))]  # sink-x: nobody


@pytest.mark.parametrize("plans_of", [lambda r: [], _beyond_the_offers], ids=["silent", "beyond"])
def test_a_member_planner_that_never_plans_within_the_offers_is_covered_for(mqtt_broker, plans_of):
    """a0, the smallest id, offers every round and plans never, or only beyond the
    offers: nothing of it runs, and once its silence shows (rounds -1 to 1, as a1 and
    a2 started planning at round -1) a1 plans a1 -> a2 within the offers, every round."""
    swarm = f"adv{int(time.time() * 1000) % 10**9}"
    honest, attacker = _keyed_swarm(mqtt_broker.url, swarm)
    try:
        moves, batteries = _play(honest, [attacker], plans_of, rounds=12)
    finally:
        attacker.close()
        for allocation in honest.values():
            allocation.link.close()
    for name in honest:  # plans of rounds 2..9, executed at rounds 4..11
        executed = [m.allocation.executed for m in moves[name]]
        assert [p and p.planner for p in executed] == [None] * 4 + ["a1"] * 8
    sends = [m.allocation.send for m in moves["a1"] if m.allocation.send is not None]
    assert len(sends) == 8 and all(set(s.targets) == {"a2"} for s in sends)
    assert all(0 < s.joules <= 50.0 * (1 + 1e-4) for s in sends)  # within a1's surplus
    given = sum(m.given_j for m in moves["a1"])
    taken = sum(m.taken_j for m in moves["a2"])
    assert 0 < taken <= given and batteries["a1"].energy_j == pytest.approx(500.0 - given)
    beyond = 10 if plans_of is _beyond_the_offers else 0  # a0's plans of rounds 0..9
    for allocation in honest.values():
        assert allocation.refused["plan exceeds the offers"] == beyond
        assert allocation.refused["not the smallest planner"] <= 1  # a2 covered round 2 too
        assert "a0" not in allocation.gate.last_run


def test_forged_planners_and_keyless_plans_are_refused_and_the_elected_plan_runs(mqtt_broker):
    """a0 is elected and honest this time (it plans a1 -> a2 within the offers); a member
    names "-" or another member as planner, and a non-member without the key tries too."""
    swarm = f"adv{int(time.time() * 1000) % 10**9}"
    honest, attacker = _keyed_swarm(mqtt_broker.url, swarm)
    keyless = RawPublisher(mqtt_broker.url, swarm)  # no key: an outsider on the broker
    member = _link(mqtt_broker.url, swarm, "a9").start()  # a member with the key
    outsider_refused = []

    def plans(r):
        if r < 0:
            return []
        steal = (Transfer("a1", "a9", 50.0),)
        for named in ("-", "a0", "a1"):
            member.publish(AllocationPlan(r, named, steal), round=r + 1)
            keyless.send("a9", AllocationPlan(r, "a9", steal), r + 1)
        keyless.send("-", AllocationPlan(r, "-", steal), r + 1)
        outsider_refused.append(honest["a1"].link.stats().rejected)
        return [AllocationPlan(r, "a0", (Transfer("a1", "a2", 30.0),))]

    try:
        moves, batteries = _play(honest, [attacker, member], plans)
    finally:
        keyless.close()
        member.close()
        attacker.close()
        for allocation in honest.values():
            allocation.link.close()
    sends = [m.allocation.send for m in moves["a1"] if m.allocation.send is not None]
    assert {s.planner for s in sends} == {"a0"} and len(sends) >= 4
    assert all(set(s.targets) == {"a2"} for s in sends)  # nothing ever left for a9
    given = sum(m.given_j for m in moves["a1"])
    taken = sum(m.taken_j for m in moves["a2"])
    assert given == pytest.approx(30.0 * len(sends), rel=1e-6)
    assert 0 < taken < given  # a2 took in what a1 reported, less the losses
    assert batteries["a1"].energy_j == pytest.approx(500.0 - given)
    for allocation in honest.values():
        assert allocation.refused["forged planner"] >= 4
    assert outsider_refused[-1] > outsider_refused[0]  # unsigned: refused by the link itself
