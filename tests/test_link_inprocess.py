"""The in-process bus: same semantics as the broker, with seeded faults."""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.link import InProcessBus
from otswarm.link.errors import LinkError
from otswarm.summaries import EnergyOffer, Histogram, Kind, encode

KEY = b"swarm-key-0123456789"
HIST = Histogram(np.ones(4) / 4)


def _swarm(n, **bus_options):
    bus = InProcessBus("sim", **bus_options)
    links = [bus.link(f"a{i}", hmac_key=KEY).start() for i in range(n)]
    return bus, links


def test_delivery_to_every_subscriber_but_the_sender():
    _, links = _swarm(4)
    inboxes = {link.agent: [] for link in links}
    for link in links:
        link.on(Kind.HISTOGRAM, inboxes[link.agent].append)
    sequence = links[0].publish(HIST, round=3)
    assert inboxes["a0"] == []
    for agent in ("a1", "a2", "a3"):
        (envelope,) = inboxes[agent]
        assert envelope.header.agent == "a0" and envelope.header.round == 3
        assert envelope.header.sequence == sequence
        assert np.allclose(envelope.message.weights, 0.25, atol=1e-4)
    assert links[0].stats().sent_messages >= 2  # online state + histogram
    assert links[1].stats().delivered >= 1


def test_sender_filter_and_kind_filter():
    _, (head, member, other) = _swarm(3)
    got = []
    member.on(Kind.HISTOGRAM, got.append, sender="a0")
    head.publish(HIST)
    other.publish(HIST)
    head.publish(EnergyOffer(1.0, 0.0))
    assert [e.header.agent for e in got] == ["a0"]


def test_membership_online_killed_closed_and_late_joiner():
    bus, links = _swarm(4)
    assert links[0].alive() == ["a0", "a1", "a2", "a3"]
    links[1].kill()  # crash: the bus sends its last will
    links[2].close()  # clean leave
    assert links[0].alive() == ["a0", "a3"]
    for agent in ("a0", "a1", "a2", "a3", "never-heard"):
        assert links[0].is_alive(agent) == (agent in links[0].alive()), agent
    late = bus.link("late", hmac_key=KEY).start()  # learns from retained states
    members = late.members()
    assert {a for a, m in members.items() if m.alive} == {"a0", "a3", "late"}
    assert not members["a1"].online and not members["a2"].online


def test_heartbeats_expire_silent_members():
    now = [1000.0]
    bus = InProcessBus("sim", clock=lambda: now[0])
    a, b = (bus.link(x, heartbeat_period_s=1.0).start() for x in ("a", "b"))
    now[0] += 2.5
    a.heartbeat()
    assert b.alive() == ["a", "b"]
    now[0] += 2.9  # a was last heard 2.9 s ago: within 3 periods
    assert b.alive() == ["a", "b"]
    now[0] += 0.2
    assert b.alive() == ["b"]
    assert not b.is_alive("a") and b.is_alive("b")


def test_seeded_drops_are_reproducible():
    def run():
        bus, links = _swarm(5, seed=11, drop=0.3)
        got = []
        for link in links[1:]:
            link.on(Kind.HISTOGRAM, got.append)
        for _ in range(50):
            links[0].publish(HIST)
        return len(got), bus.dropped

    first, second = run(), run()
    assert first == second
    received, _ = first
    assert 100 < received < 180  # 200 deliveries at 30 % loss: 140 ± 5 sigma (sigma = 6.5)


def test_partition_and_heal():
    bus, (a, b, c) = _swarm(3)
    got = {x.agent: [] for x in (a, b, c)}
    for link in (a, b, c):
        link.on(Kind.HISTOGRAM, got[link.agent].append)
    bus.partition(["a0", "a1"], ["a2"])
    a.publish(HIST)
    c.publish(HIST)
    assert [e.header.agent for e in got["a1"]] == ["a0"]
    assert got["a2"] == [] and got["a0"] == []
    bus.heal()
    c.publish(HIST)
    assert [e.header.agent for e in got["a0"]] == ["a2"]


def test_delay_and_jitter_still_deliver_everything_once():
    bus, (a, b) = _swarm(2, delay_s=0.01, jitter_s=0.02, seed=2)
    got = []
    b.on(Kind.HISTOGRAM, got.append)
    sent = [a.publish(HIST) for _ in range(30)]
    assert bus.flush(timeout=10)
    bus.close()
    assert sorted(e.header.sequence for e in got) == sent


def test_foreign_and_malformed_payloads_are_counted_not_fatal():
    bus, (a, b) = _swarm(2)
    got = []
    b.on(Kind.HISTOGRAM, got.append)
    topic = "otswarm/v1/sim/a0/histogram"
    bus.inject(topic, b"\x00garbage")
    bus.inject(topic, encode(HIST, agent="a0", round=0, sequence=9, timestamp_us=1))  # unsigned
    forged = encode(HIST, agent="a0", round=0, sequence=9, timestamp_us=1, key=b"x" * 16)
    bus.inject(topic, forged)
    bus.inject(topic, encode(HIST, agent="a2", round=0, sequence=9, timestamp_us=1, key=KEY))
    stats = b.stats()
    assert (stats.decode_errors, stats.rejected) == (1, 3)
    a.publish(HIST)
    assert len(got) == 1  # still working


def test_handler_errors_are_counted_and_other_handlers_still_run():
    _, (a, b) = _swarm(2)
    got = []
    b.on(Kind.HISTOGRAM, lambda e: 1 / 0)
    b.on(Kind.HISTOGRAM, got.append)
    a.publish(HIST)
    assert len(got) == 1 and b.stats().handler_errors == 1


def test_publish_before_start_and_duplicate_agent_are_errors():
    bus = InProcessBus()
    link = bus.link("x")
    with pytest.raises(LinkError, match="before start"):
        link.publish(HIST)
    link.start()
    with pytest.raises(LinkError, match="already on this bus"):
        bus.link("x").start()


def test_two_thousand_agents_around_cluster_heads():
    """Scale: 2000 agents, 20 heads; each member listens to its head only."""
    bus = InProcessBus("big")
    heads = [bus.link(f"h{i}", track_members=False).start() for i in range(20)]
    members = [bus.link(f"m{i}", track_members=False).start() for i in range(1980)]
    heard = np.zeros(len(members), dtype=int)
    for i, member in enumerate(members):
        count = lambda e, i=i: heard.__setitem__(i, heard[i] + 1)  # noqa: E731
        member.on(Kind.HISTOGRAM, count, sender=f"h{i % 20}")
    to_heads = [0] * len(heads)
    for j, head in enumerate(heads):
        head.on(Kind.HISTOGRAM, lambda e, j=j: to_heads.__setitem__(j, to_heads[j] + 1))
    for member in members:
        member.publish(HIST)
    for head in heads:
        head.publish(HIST)
    assert heard.tolist() == [1] * len(members)
    assert sum(to_heads) == len(members) * len(heads) + len(heads) * (len(heads) - 1)


def test_a_wider_subscription_replaces_narrower_ones_without_duplicates():
    _, (a, b) = _swarm(2)
    got = []
    b.on(Kind.HISTOGRAM, got.append, sender="a0")
    b.on(Kind.HISTOGRAM, got.append)
    a.publish(HIST)
    assert len(got) == 2  # one message, two handlers: each called once
    assert b.stats().rejected == 0


def test_sequence_wraps_to_one_and_receivers_follow():
    _, (a, b) = _swarm(2)
    got = []
    b.on(Kind.HISTOGRAM, got.append)
    a._sequence = 0xFFFFFFFF - 1  # as after four billion messages
    assert [a.publish(HIST) for _ in range(3)] == [0xFFFFFFFF, 1, 2]
    assert [e.header.sequence for e in got] == [0xFFFFFFFF, 1, 2]
    assert b.stats().rejected == 0


def test_alive_is_the_alive_members_of_the_table():
    """``alive()`` reads the membership table without building ``members()``: both agree
    as agents join, go silent and leave."""
    clock = [1000.0]
    bus = InProcessBus("sim", clock=lambda: clock[0])
    links = [bus.link(f"a{i}", heartbeat_period_s=1.0).start() for i in range(4)]

    def agree() -> list[str]:
        members = links[0].members()
        alive = links[0].alive()
        assert alive == sorted(a for a, m in members.items() if m.alive)
        return alive

    assert agree() == ["a0", "a1", "a2", "a3"]
    links[3].close()  # leaves: its offline state arrives
    assert agree() == ["a0", "a1", "a2"]
    clock[0] += 10.0  # nobody beats for 10 periods: the others are silent
    links[0].heartbeat()
    assert agree() == ["a0"]
    links[1].heartbeat()
    assert agree() == ["a0", "a1"]
