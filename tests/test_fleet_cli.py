"""``otswarm fleet`` from the command line: finding the swarm, and its errors."""

from __future__ import annotations

import json

import pytest
from fleet_swarm_support import otswarm
from link_support import mqtt_link

from otswarm.link.broker import EmbeddedBroker, free_port
from otswarm.summaries import Telemetry


@pytest.fixture(scope="module")
def broker():
    with EmbeddedBroker(prefer="mosquitto") as running:
        yield running


def _once(broker, *extra: str):
    return otswarm("fleet", "--broker", broker.url, "--once", "--json", "--wait", "1", *extra)


def test_no_swarm_on_the_broker_is_a_clear_error(broker):
    result = _once(broker)
    assert result.returncode == 1
    assert "no swarm on the broker" in result.stderr


def test_one_swarm_is_found_and_several_must_be_chosen(broker):
    garden = mqtt_link(broker.url, "pi-1", "garden")
    try:
        garden.publish(Telemetry(1.0, 3.0, 2.7, {"idle": 8.1}))
        found = _once(broker)
        assert found.returncode == 0, found.stderr
        assert list(json.loads(found.stdout)["agents"]) == ["pi-1"]
        roof = mqtt_link(broker.url, "pi-2", "roof")
        try:
            several = _once(broker)
            chosen = _once(broker, "--swarm", "roof")
        finally:
            roof.close()
    finally:
        garden.close()
    assert several.returncode == 1
    assert "2 swarms on the broker (garden, roof): choose one with --swarm" in several.stderr
    assert chosen.returncode == 0 and list(json.loads(chosen.stdout)["agents"]) == ["pi-2"]
    assert json.loads(found.stdout)["agents"]["pi-1"]["joules"] == {"idle": 8.1}


def test_an_unreachable_broker_is_a_clear_error():
    result = otswarm("fleet", "--broker", f"mqtt://127.0.0.1:{free_port()}", "--once")
    assert result.returncode == 1
    assert "cannot connect" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--json"], "--json needs --once"), (["--once", "--metrics-port", "1"], "leave out --once")],
)
def test_options_that_do_not_go_together(broker, options, message):
    result = otswarm("fleet", "--broker", broker.url, *options)
    assert result.returncode == 1 and message in result.stderr


def test_the_live_view_and_the_table_show_the_agents(broker):
    pi = mqtt_link(broker.url, "pi-9", "porch")
    try:
        pi.publish(Telemetry(1.0, 3.0, 2.7, {"idle": 8.1}, battery_soc=0.42, board="rpi5"))
        live = otswarm("fleet", "--broker", broker.url, "--swarm", "porch", "--duration", "1.5",
                       "--refresh", "0.5", "--wait", "1", COLUMNS="200")  # fmt: skip
        table = otswarm("fleet", "--broker", broker.url, "--swarm", "porch", "--once",
                        "--wait", "1", COLUMNS="200")  # fmt: skip
    finally:
        pi.close()
    for result in (live, table):
        assert result.returncode == 0, result.stderr
        assert "swarm porch" in result.stdout and "1/1 online" in result.stdout
        assert "pi-9" in result.stdout and "rpi5" in result.stdout and "42%" in result.stdout


def test_profile_takes_ledgers_or_a_broker_not_both(broker, tmp_path):
    result = otswarm("profile", str(tmp_path), "--broker", broker.url, "--duration", "1")
    assert result.returncode == 2 and "not both" in result.stdout


def test_profile_of_a_swarm_that_sent_nothing_says_so(broker, tmp_path):
    result = otswarm("profile", "--broker", broker.url, "--swarm", "empty", "--duration", "1.5",
                     "--wait", "0.5", "--out", str(tmp_path))  # fmt: skip
    assert result.returncode == 1
    assert "no agent sent two telemetry messages" in result.stdout
