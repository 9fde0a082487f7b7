"""What a link believes and keeps: identity, clock skew, sessions, bounded membership.

In-process bus with a controlled clock; the same attacks against real agent
processes on Mosquitto are in tests/test_adversary_identity.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.errors import ConfigError
from otswarm.identity import AgentIdentity, Roster, generate_private_key, sign_roster
from otswarm.link import InProcessBus
from otswarm.link.limits import LinkLimits
from otswarm.link.topics import roster_topic, topic
from otswarm.summaries import Heartbeat, Histogram, Kind, encode

HIST = Histogram(np.ones(4) / 4)
KEY = b"swarm-key-0123456789"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _forge(message, agent, *, sequence=1, stamp_s=T0, session=int(T0) - 100, **keys) -> bytes:
    return encode(
        message, agent=agent, round=0, sequence=sequence, timestamp_us=int(stamp_s * 1e6),
        session=session, **keys,
    )  # fmt: skip


def _inbox(link, kind=Kind.HISTOGRAM):
    got = []
    link.on(kind, got.append)
    return got


# -- identity ------------------------------------------------------------------------------


@pytest.fixture
def signed_swarm():
    keys = {a: generate_private_key() for a in ("a0", "a1", "a2")}
    roster = Roster("sim", 1, {a: k.public_key() for a, k in keys.items()})
    operator = generate_private_key().public_key()
    clock = Clock()
    bus = InProcessBus("sim", clock=clock)
    links = {
        a: bus.link(a, identity=AgentIdentity(a, k, operator, roster)).start()
        for a, k in keys.items()
    }
    return bus, links, keys


def test_signed_swarm_delivers_members_messages(signed_swarm):
    _, links, _ = signed_swarm
    got = _inbox(links["a1"])
    links["a0"].publish(HIST)
    assert [e.header.agent for e in got] == ["a0"] and got[0].header.agent_signed
    assert links["a1"].alive() == ["a0", "a1", "a2"]


def test_a_member_cannot_speak_for_another(signed_swarm):
    bus, links, keys = signed_swarm
    got = _inbox(links["a1"])
    before = links["a1"].stats().rejected
    # a2 signs with its own key a message in a0's name, on a0's topic
    bus.inject(topic("sim", "a0", Kind.HISTOGRAM), _forge(HIST, "a0", signer=keys["a2"]))
    # and on its own topic with a0 in the header
    bus.inject(topic("sim", "a2", Kind.HISTOGRAM), _forge(HIST, "a0", signer=keys["a0"]))
    assert got == [] and links["a1"].stats().rejected == before + 2


def test_ids_outside_the_roster_and_unsigned_messages_are_refused(signed_swarm):
    bus, links, _ = signed_swarm
    got = _inbox(links["a1"])
    bus.inject(topic("sim", "ghost", Kind.HISTOGRAM), _forge(HIST, "ghost",
               signer=generate_private_key()))  # fmt: skip
    bus.inject(topic("sim", "a0", Kind.HISTOGRAM), _forge(HIST, "a0", key=KEY))
    assert got == [] and "ghost" not in links["a1"].members()
    assert links["a1"].tracked() == 2  # a0 and a2, from their online states


def test_a_roster_published_on_the_tree_is_adopted_only_when_newer_and_the_operators():
    operator = generate_private_key()
    keys = {a: generate_private_key() for a in ("a0", "a1")}
    publish = lambda serial, signer=operator, members=keys: bus.inject(  # noqa: E731
        roster_topic("sim"),
        sign_roster(Roster("sim", serial, {a: k.public_key() for a, k in members.items()}),
                    signer),
    )  # fmt: skip
    bus = InProcessBus("sim", clock=Clock())
    links = {
        a: bus.link(a, identity=AgentIdentity(a, k, operator.public_key())).start()
        for a, k in keys.items()
    }
    got = _inbox(links["a1"])
    publish(2)
    assert links["a1"].roster.serial == 2
    links["a0"].publish(HIST)
    assert [e.header.agent for e in got] == ["a0"]
    late = bus.link("a2", identity=AgentIdentity("a2", generate_private_key(),
                                                 operator.public_key())).start()  # fmt: skip
    assert late.roster.serial == 2  # retained: a newcomer gets it at once
    before = links["a1"].stats().rejected
    mallory = generate_private_key()
    publish(3, signer=mallory, members={"a0": mallory, "a1": keys["a1"]})  # not the operator's
    publish(1, members={"a1": keys["a1"]})  # older: would drop a0
    assert links["a1"].roster.serial == 2 and late.roster.serial == 2
    assert links["a1"].stats().rejected == before + 1  # mallory's; the older one is ignored


def test_identity_must_match_its_roster():
    key, operator = generate_private_key(), generate_private_key().public_key()
    roster = Roster("sim", 1, {"a0": generate_private_key().public_key()})
    with pytest.raises(ValueError, match="another public key"):
        AgentIdentity("a0", key, operator, roster)
    with pytest.raises(ValueError, match="not in roster"):
        AgentIdentity("a1", key, operator, roster)


def test_signed_link_without_a_roster_refuses_everything_until_it_has_one():
    clock = Clock()
    bus = InProcessBus("sim", clock=clock)
    operator = generate_private_key().public_key()
    waiting = bus.link("a0", identity=AgentIdentity("a0", generate_private_key(), operator))
    waiting.start()
    got = _inbox(waiting)
    bus.link("a1", hmac_key=KEY).start().publish(HIST)
    assert got == [] and waiting.stats().rejected >= 1


# -- clock skew and sessions ------------------------------------------------------------------


def test_future_stamped_messages_do_not_mute_the_real_sender():
    clock = Clock()
    bus = InProcessBus("sim", clock=clock)
    receiver = bus.link("rx", limits=LinkLimits(max_skew_s=30)).start()
    real = bus.link("a0").start()
    got = _inbox(receiver)
    future = T0 + 10 * 365 * 86400
    where = topic("sim", "a0", Kind.HISTOGRAM)
    for seq in (1, 2**31):
        bus.inject(where, _forge(HIST, "a0", sequence=seq, stamp_s=future, session=real.session))
    assert got == [] and receiver.stats().rejected == 2
    real.publish(HIST)
    assert [e.header.agent for e in got] == ["a0"]


def test_a_restarted_sender_is_heard_again_at_once():
    clock = Clock()
    bus = InProcessBus("sim", clock=clock)
    receiver = bus.link("rx").start()
    got = _inbox(receiver)
    first = bus.link("a0").start()
    for _ in range(100):
        first.publish(HIST)
    first.kill()
    clock.now += 0.1  # restarted within the same second
    second = bus.link("a0").start()
    assert second.session > first.session
    second.publish(HIST)
    assert len(got) == 101 and got[-1].header.sequence < got[-2].header.sequence
    assert receiver.alive() == ["a0", "rx"]


def test_a_replayed_will_of_an_older_session_never_marks_the_live_agent_offline():
    clock = Clock()
    bus = InProcessBus("sim", clock=clock)
    first = bus.link("a0").start()
    old_will = first._will
    first.kill()
    clock.now += 5
    live = bus.link("a0").start()
    watcher = bus.link("rx").start()
    assert watcher.alive() == ["a0", "rx"]
    bus.inject(topic("sim", "a0", Kind.STATE), old_will)  # replayed, and retained by the bus
    assert watcher.alive() == ["a0", "rx"]
    # a newcomer first hears the replayed (retained) old will, then the live agent
    newcomer = bus.link("nc").start()
    live.heartbeat()
    assert "a0" in newcomer.alive()


# -- bounded membership ----------------------------------------------------------------------


def test_ghost_heartbeat_periods_are_capped_and_ghosts_expire():
    clock = Clock()
    bus = InProcessBus("sim", clock=clock)
    receiver = bus.link("rx", limits=LinkLimits(max_heartbeat_period_s=10)).start()
    for i in range(50):
        bus.inject(topic("sim", f"ghost{i}", Kind.HEARTBEAT),
                   _forge(Heartbeat(3e38), f"ghost{i}"))  # fmt: skip
    assert len(receiver.alive()) == 51
    assert receiver.members()["ghost0"].period_s == 10
    clock.now += 30.5  # 3 capped periods
    assert receiver.alive() == ["rx"]
    clock.now += 1.0
    assert receiver.tracked() == 0  # removed, replay state too


def test_a_flood_of_new_ids_is_bounded_and_members_keep_being_heard():
    clock = Clock()
    bus = InProcessBus("sim", clock=clock)
    limits = LinkLimits(max_members=100, max_heartbeat_period_s=5)
    receiver = bus.link("rx", limits=limits).start()
    member = bus.link("m0").start()
    got = _inbox(receiver)
    for i in range(2000):
        bus.inject(topic("sim", f"f{i}", Kind.HISTOGRAM), _forge(HIST, f"f{i}"))
    assert receiver.tracked() == 100 and receiver.stats().throttled == 1901
    member.publish(HIST)  # already known: still heard
    assert got[-1].header.agent == "m0"
    clock.now += 16  # the flood stopped; its ids are silent past 3 capped periods
    member.heartbeat()
    assert receiver.tracked() == 1
    bus.inject(topic("sim", "late", Kind.HISTOGRAM), _forge(HIST, "late", stamp_s=clock.now))
    assert got[-1].header.agent == "late"  # a new sender is admitted again


def test_a_sender_over_its_rate_is_throttled_then_heard_again():
    clock = Clock()
    bus = InProcessBus("sim", clock=clock)
    receiver = bus.link("rx", limits=LinkLimits(rate_per_s=10, burst=20)).start()
    sender = bus.link("a0").start()  # its online state took one token
    got = _inbox(receiver)
    for _ in range(30):
        sender.publish(HIST)
    assert len(got) == 19 and receiver.stats().throttled == 11
    clock.now += 1.0  # 10 tokens back
    for _ in range(12):
        sender.publish(HIST)
    assert len(got) == 29


@pytest.mark.parametrize(
    "bad",
    [
        {"max_skew_s": 0},
        {"max_skew_s": float("nan")},
        {"max_heartbeat_period_s": float("inf")},
        {"max_members": 0},
        {"rate_per_s": -1},
        {"burst": 0},
    ],
)
def test_limits_are_validated(bad):
    with pytest.raises(ConfigError):
        LinkLimits(**bad)
