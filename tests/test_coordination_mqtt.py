"""Exactly one allocation plan per round through a real Mosquitto broker."""

from __future__ import annotations

import time

import pytest
from allocation_support import run_round

from otswarm.coordination.rounds import AllocationRound
from otswarm.link import MqttLink, MqttLinkConfig


def _wait(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_one_plan_per_round_over_mqtt_while_the_planner_leaves(mqtt_broker):
    swarm = f"coord{int(time.time() * 1000) % 10**9}"
    names = ["m1", "m2", "m3", "m4"]
    supply = {"m1": 3.0, "m2": 4.0}
    agents = {}
    for i, name in enumerate(names):
        link = MqttLink(MqttLinkConfig(mqtt_broker.url, swarm, name, reconnect_min_s=0.1))
        # plans every round, whatever a (compiling) solve costs
        agents[name] = AllocationRound(
            link, position_m=(10.0 * i, 0.0, 0.0), min_move_per_solve=0.0
        ).start()
        link.start()  # after start(): the broker has every subscription on return
    for name in names:
        _wait(lambda a=agents[name]: set(a.link.alive()) >= set(names), "every member online")
    moves: dict[int, dict[str, object]] = {}
    try:
        for r in range(9):
            if r == 4:  # the planner leaves: no offer from it from round 4 on
                agents.pop("m1").link.close()
            alive = sorted(agents)
            for name in alive:
                need = 0.0 if name in supply else 2.5
                moves.setdefault(r, {})[name] = run_round(
                    agents[name], r, supply.get(name, 0.0), need
                )
            for name in alive:  # the next round starts when this one's offers are in
                allocation = agents[name]
                _wait(lambda a=allocation, r=r, s=set(alive): a.view(r) >= s, f"offers of {r}")
            if r >= 1 and (r - 1) != 3:  # round 3's planner left before planning it
                planner = min(alive) if r - 1 >= 4 else "m1"
                for name in alive:
                    allocation = agents[name]
                    _wait(lambda a=allocation, r=r, p=planner: a.holds_plan(r - 1, p), "plan")
            if r >= 3:  # the reports of what was sent at r - 1 are in before r + 1
                time.sleep(0.2)
    finally:
        for allocation in agents.values():
            allocation.link.close()
    sent = {}
    for ticks in moves.values():
        for name, moved in ticks.items():
            if moved.allocation.send is not None:
                sent.setdefault(moved.allocation.send.round, {})[name] = moved
    planners = {r: {m.allocation.send.planner for m in parts.values()} for r, parts in sent.items()}
    assert planners == {0: {"m1"}, 1: {"m1"}, 2: {"m1"}, 4: {"m2"}, 5: {"m2"}, 6: {"m2"}}
    for r, parts in sent.items():
        suppliers = {"m2"} | ({"m1"} if r + 2 < 4 else set())
        assert set(parts) == suppliers
        given = sum(m.given_j for m in parts.values())
        assert given > 0
        if r + 3 < 9:  # taken in at r + 3, by what each supplier reported it sent
            taken = [m for m in moves[r + 3].values() if m.allocation.receive is not None]
            assert sum(m.allocation.receive.sent_j for m in taken) == pytest.approx(given, 1e-6)
            assert 0 < sum(m.taken_j for m in taken) < given
    for allocation in agents.values():
        assert not allocation.refused, allocation.refused
