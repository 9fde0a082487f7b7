"""Exactly one allocation plan per round through a real Mosquitto broker."""

from __future__ import annotations

import time

import numpy as np
import pytest

from otswarm.coordination.swarm import SwarmCoordinator
from otswarm.energy import EnergyLedger, LedgerReader, ledger_path, load_profile
from otswarm.link import MqttLink, MqttLinkConfig

LEVELS = np.linspace(0.0, 1.0, 5)


def _wait(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_one_plan_per_round_over_mqtt_while_the_planner_leaves(mqtt_broker, tmp_path):
    swarm = f"coord{int(time.time() * 1000) % 10**9}"
    names = ["m1", "m2", "m3", "m4"]
    supply = {"m1": 3.0, "m2": 4.0}
    agents = {}
    for i, name in enumerate(names):
        link = MqttLink(MqttLinkConfig(mqtt_broker.url, swarm, name, reconnect_min_s=0.1))
        ledger = EnergyLedger(ledger_path(tmp_path, name), name, load_profile("rpi5"), start=False)
        coord = SwarmCoordinator(  # plans every round, whatever a (compiling) solve costs
            link, LEVELS, position_m=(10.0 * i, 0.0, 0.0), ledger=ledger, min_move_per_solve=0.0
        )
        agents[name] = (coord.start(), ledger)
        link.start()  # after coord.start(): the broker has every subscription on return
    sent: dict[int, dict[str, object]] = {}
    try:
        for r in range(9):
            if r == 4:  # the planner leaves: no offer from it from round 4 on
                coord, ledger = agents.pop("m1")
                coord.link.close()
                ledger.close()
            alive = sorted(agents)
            for name in alive:
                need = 0.0 if name in supply else 2.5
                report = agents[name][0].round(r, supply.get(name, 0.0), need)
                if report.sent is not None:
                    sent.setdefault(report.sent.round, {})[name] = report.sent
            for name in alive:  # the next round starts when this one's offers are in
                coord = agents[name][0]
                _wait(lambda c=coord, r=r, a=set(alive): c.view(r) >= a, f"offers of {r}")
            if r >= 1 and (r - 1) != 3:  # round 3's planner left before planning it
                planner = min(alive) if r - 1 >= 4 else "m1"
                for name in alive:
                    coord = agents[name][0]
                    _wait(lambda c=coord, r=r, p=planner: c.plan_waiting(r - 1) == p, "plan")
    finally:
        for coord, _ in agents.values():
            coord.link.close()
    planners = {r: {p.planner for p in parts.values()} for r, parts in sent.items()}
    assert planners == {0: {"m1"}, 1: {"m1"}, 2: {"m1"}, 4: {"m2"}, 5: {"m2"}, 6: {"m2"}}
    for r, parts in sent.items():
        members = {"m2", "m3", "m4"} | ({"m1"} if r + 2 < 4 else set())
        assert set(parts) == members
        assert sum(p.joules for p in parts.values()) > 0
    for name, (_, ledger) in agents.items():
        ledger.flush()
        booked = LedgerReader(ledger_path(tmp_path, name)).totals(name).get(name, {})
        expected = sum(parts[name].joules for parts in sent.values() if name in parts)
        assert booked.get("energy_out", 0.0) == pytest.approx(expected, rel=1e-6)
        ledger.close()
