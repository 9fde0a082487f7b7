"""The fleet viewer's state, its JSON snapshot, its metrics and the profile's ledger,
fed with real encoded payloads (no broker: the MQTT side is in test_fleet_swarm.py)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from otswarm.energy.report import build_reports
from otswarm.fleet import SwarmNotFoundError
from otswarm.fleet.metrics import FleetCollector
from otswarm.fleet.profile import AgentSeries, TelemetryRecorder, write_ledger
from otswarm.fleet.snapshot import choose_swarm, snapshot
from otswarm.fleet.state import FleetState
from otswarm.summaries import Heartbeat, Histogram, State, Telemetry, encode

KEY = b"swarm-key-0123456789"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _payload(message, agent="a1", seq=1, t=T0, key=KEY):
    return encode(message, agent=agent, round=0, sequence=seq, timestamp_us=int(t * 1e6), key=key)


def _topic(agent="a1", kind="telemetry", swarm="s1"):
    return f"otswarm/v1/{swarm}/{agent}/{kind}"


def _telemetry(uptime=100.0, idle=270.0, ot=1.0, **extra):
    fields = {"battery_soc": 0.5, "duty": 0.25, "board": "rpi4", **extra}
    return Telemetry(1.0, uptime, 2.71, {"idle": idle, "ot": ot, "energy_out": 5.0}, **fields)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def state(clock):
    return FleetState(KEY, clock=clock)


def test_online_agents_with_their_telemetry(state, clock):
    state.receive(_topic(kind="state"), _payload(State(True, 2.0)))
    state.receive(_topic(), _payload(_telemetry(), seq=2))
    snap = snapshot(state, "s1")
    a1 = snap["agents"]["a1"]
    assert (snap["online"], a1["online"], a1["announced"]) == (1, True, "online")
    assert a1["joules"] == {"idle": 270.0, "ot": 1.0, "energy_out": 5.0}
    assert a1["spent_j"] == 271.0  # energy moved by allocation is not spent
    assert a1["power_w"] == pytest.approx(2.71)
    assert (a1["battery_soc"], a1["board"], a1["telemetry_age_s"]) == (0.5, "rpi4", 0.0)


def test_silence_and_the_last_will_both_mean_offline(state, clock):
    state.receive(_topic(kind="state"), _payload(State(True, 2.0)))
    state.receive(_topic("a2", "state"), _payload(State(True, 2.0), agent="a2"))
    clock.t += 5.0
    state.receive(_topic("a2", "heartbeat"), _payload(Heartbeat(2.0), agent="a2", seq=2))
    assert {a: v.online for a, v in state.agents("s1").items()} == {"a1": True, "a2": True}
    clock.t += 2.0  # a1 silent for 7 s > 3 periods of 2 s
    assert not state.agents("s1")["a1"].online
    # a2's broker publishes its last will (encoded before its online state: sequence 0 < 1)
    will = _payload(State(False, 2.0), agent="a2", seq=0, t=T0 - 0.001)
    state.receive(_topic("a2", "state"), will)
    assert not state.agents("s1")["a2"].online
    assert state.agents("s1")["a2"].announced is False


def test_retained_messages_are_dated_by_their_sender(state, clock):
    """A retained online state and telemetry from an hour ago: the agent is gone."""
    old = T0 - 3600
    state.receive(_topic(kind="state"), _payload(State(True, 2.0), t=old), retained=True)
    state.receive(_topic(), _payload(_telemetry(), seq=2, t=old + 1), retained=True)
    view = state.agents("s1")["a1"]
    assert not view.online and view.announced is True
    assert view.last_seen == old + 1 and view.telemetry_t == old + 1
    assert snapshot(state, "s1")["agents"]["a1"]["seen_ago_s"] == pytest.approx(3599)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (_topic(), _payload(_telemetry(), key=None)),  # unsigned, the viewer has the key
        (_topic(), _payload(_telemetry(), key=b"another-key-0123456")),  # forged
        (_topic("a2"), _payload(_telemetry())),  # a1's message on a2's topic
        (_topic(kind="state"), _payload(_telemetry())),  # telemetry posing as a state
        (_topic(), b"OT\x01garbage"),  # malformed
        ("otswarm/v1/s1/a1", _payload(_telemetry())),  # not a summary topic
    ],
    ids=["unsigned", "forged", "other-agent", "other-kind", "malformed", "bad-topic"],
)
def test_refused_payloads_are_counted_and_change_nothing(state, topic, payload, caplog):
    state.receive(topic, payload)
    assert (state.dropped, state.accepted) == (1, 0)
    assert state.agents("s1") == {}
    assert "fleet: dropped a payload" in caplog.text


def test_a_replayed_telemetry_is_refused(state):
    payload = _payload(_telemetry(uptime=1.0), seq=5)
    state.receive(_topic(), payload)
    state.receive(_topic(), payload)
    assert (state.accepted, state.dropped) == (1, 1)


def test_other_kinds_are_ignored_not_dropped(state):
    state.receive(_topic(kind="histogram"), _payload(Histogram([0.5, 0.5])))
    assert (state.accepted, state.dropped, state.swarms()) == (0, 0, [])


def test_choosing_the_swarm():
    assert choose_swarm(None, ["garden"]) == "garden"
    assert choose_swarm("roof", ["garden"]) == "roof"  # asked for: it may have no agent yet
    with pytest.raises(SwarmNotFoundError, match="no swarm on the broker"):
        choose_swarm(None, [])
    with pytest.raises(SwarmNotFoundError, match=r"2 swarms on the broker \(garden, roof\)"):
        choose_swarm(None, ["garden", "roof"])


def test_metrics_are_the_last_telemetry_of_every_agent(state, clock):
    state.receive(_topic(kind="state"), _payload(State(True, 2.0)))
    state.receive(_topic(), _payload(_telemetry(plans_executed=3), seq=2))
    state.receive(_topic("a2", "state"), _payload(State(False, 2.0), agent="a2"))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(state, "s1"))
    from prometheus_client import generate_latest

    families = {
        f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())
    }
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}  # fmt: skip
    a1 = (("agent", "a1"), ("swarm", "s1"))
    assert samples[("otswarm_agent_up", a1)] == 1.0
    assert samples[("otswarm_agent_up", (("agent", "a2"), ("swarm", "s1")))] == 0.0
    assert families["otswarm_energy_joules"].type == "counter"
    idle = (("agent", "a1"), ("component", "idle"), ("swarm", "s1"))
    assert samples[("otswarm_energy_joules_total", idle)] == 270.0
    assert samples[("otswarm_power_watts", a1)] == pytest.approx(2.71)
    assert samples[("otswarm_battery_soc", a1)] == 0.5
    assert samples[("otswarm_plans_executed_total", a1)] == 3.0
    assert ("otswarm_alignment_w1", a1) not in samples  # unknown: no sample, not a 0


def test_profile_entries_follow_the_counters_across_a_restart():
    series = AgentSeries("a1")
    series.points = [
        (T0, _telemetry(uptime=100.0, idle=270.0)),  # the baseline (e.g. retained)
        (T0 + 10, _telemetry(uptime=110.0, idle=297.0, ot=1.5)),
        (T0 + 20, _telemetry(uptime=4.0, idle=10.8, ot=0.1)),  # restarted 4 s before
    ]
    rows = {(c, t0, t1): j for c, t0, t1, j in series.entries()}
    assert rows[("idle", T0, T0 + 10)] == pytest.approx(27.0)
    assert rows[("ot", T0, T0 + 10)] == pytest.approx(0.5)
    assert rows[("idle", T0 + 16, T0 + 20)] == pytest.approx(10.8)  # the new run's own
    assert series.observed_s == pytest.approx(14.0)


def test_recorder_skips_retained_copies_and_other_swarms():
    recorder = TelemetryRecorder("s1")
    recorder("s1", "a1", T0, _telemetry())
    recorder("s1", "a1", T0, _telemetry())  # the same message again
    recorder("s2", "a1", T0 + 1, _telemetry())
    assert [len(s.points) for s in recorder.of("s1").values()] == [1]
    assert recorder.of("s2") == {}


def test_the_profile_ledger_reads_like_any_ledger(tmp_path):
    series = AgentSeries("a1", "rpi4")
    series.points = [(T0 + 10 * k, _telemetry(uptime=10.0 * k, idle=27.0 * k)) for k in range(4)]
    path = write_ledger({"a1": series}, tmp_path, "s1")
    write_ledger({"a1": series}, tmp_path, "s1")  # a second run replaces the first
    (report,) = build_reports([path])
    assert (report.agent, report.board, report.duration_s) == ("a1", "rpi4", 30.0)
    idle = next(row for row in report.rows if row.component == "idle")
    assert (idle.joules, idle.mean_w) == (pytest.approx(81.0), pytest.approx(2.7))
    assert report.allocation["energy_out"] == 0.0  # unchanged counter: nothing moved
