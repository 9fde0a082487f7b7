"""The agent's side of a rollout, in process: real models in LiteRT, real Ed25519
signatures, the real link code on the in-process bus (the swarm tests in
tests/test_rollout_swarm.py run the same through Mosquitto and agent processes)."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from link_support import inbox
from rollout_support import GATED, HARVEST, SPREAD, UNIFORM, rollout_of, write_keys

from otswarm.agent.config import parse_config
from otswarm.agent.telemetry import file_sha256
from otswarm.errors import ConfigError
from otswarm.identity import read_public_key
from otswarm.link import InProcessBus
from otswarm.link.topics import OPERATOR, topic
from otswarm.policy import HARVEST_OBSERVATION, Policy, build_observation
from otswarm.rollout.adopter import PolicyRollout
from otswarm.rollout.candidate import contract_of
from otswarm.summaries import Kind, Outcome, Rollout, decode, encode

SWARM = "roll"
FULL = {"battery_soc": 0.9, "harvest_w": 4.0, "load_w": 2.0, "hour_of_day": 12.0, "duty": 0.5,
        "received_w": 0.0}  # fmt: skip
EMPTY = {**FULL, "battery_soc": 0.2}


@pytest.fixture
def swarm(tmp_path):
    """An agent's PolicyRollout on a bus, the operator's key, and a status inbox."""
    key, _, public = write_keys(tmp_path / "keys")
    bus = InProcessBus(SWARM)
    link = bus.link("a1").start()
    watcher = bus.link("w").start()
    statuses = inbox(watcher, Kind.ROLLOUT_STATUS)
    policy = Policy(HARVEST, expected_observation=HARVEST_OBSERVATION)
    adopter = PolicyRollout(
        "a1", SWARM, link, policy, file_sha256(HARVEST), trusted_key=read_public_key(public),
        contract=contract_of(policy, HARVEST_OBSERVATION, 16384),
        store_dir=tmp_path / "policies", rollback_after=3,
    )  # fmt: skip
    yield bus, key, adopter, statuses
    bus.close()


def _send(bus: InProcessBus, rollout: Rollout, sequence: int = 1) -> None:
    payload = encode(rollout, agent=OPERATOR, round=0, sequence=sequence,
                     timestamp_us=rollout.issued_us + sequence)  # fmt: skip
    bus.inject(topic(SWARM, OPERATOR, Kind.ROLLOUT), payload)


def _probs(policy: Policy, quantities: dict):
    return policy.action_probabilities(build_observation(quantities, policy.card.observation))


def test_adopts_at_the_tick_boundary_keeps_the_previous_and_says_so(swarm, tmp_path):
    bus, key, adopter, statuses = swarm
    before = adopter.policy
    _send(bus, rollout_of(key, UNIFORM, SWARM))
    assert adopter.policy is before  # nothing changes between ticks
    new = adopter.at_tick_boundary(FULL)
    assert new is adopter.policy is not before
    assert adopter.current.sha256 == file_sha256(UNIFORM)
    assert adopter.previous.policy is before
    status = statuses.get(timeout=5).message
    assert (status.outcome, status.code) == (Outcome.ADOPTED, "adopted")
    assert status.policy == status.rollout == file_sha256(UNIFORM)
    assert (tmp_path / "policies" / f"{file_sha256(UNIFORM).hex()[:16]}.tflite").is_file()
    assert OPERATOR not in bus.link("x").start().members()  # the operator is no member


def _unsigned(key, other):
    return dataclasses.replace(rollout_of(key, UNIFORM, SWARM), key_id=bytes(8), signature=b"")


def _padded(key, other):
    return rollout_of(key, UNIFORM, SWARM, model_bytes=UNIFORM.read_bytes() + bytes(16384))


BAD = {  # reason code -> a rollout that must be refused for it (other: a key not trusted)
    "unsigned": _unsigned,
    "untrusted_key": lambda key, other: rollout_of(other, UNIFORM, SWARM),
    "bad_signature": lambda key, other: _tampered(rollout_of(key, UNIFORM, SWARM)),
    "wrong_swarm": lambda key, other: rollout_of(key, UNIFORM, "elsewhere"),
    "contract": lambda key, other: rollout_of(key, SPREAD, SWARM),  # another layout
    "corrupt": lambda key, other: rollout_of(key, UNIFORM, SWARM, model_bytes=b"TFL3" + bytes(900)),
    "too_large": _padded,
    "smoke": lambda key, other: rollout_of(key, GATED, SWARM),  # on an empty battery
}


@pytest.mark.parametrize("code", list(BAD))
def test_bad_rollouts_are_refused_with_their_reason_and_change_nothing(swarm, code, caplog):
    bus, key, adopter, statuses = swarm
    before = adopter.policy
    _send(bus, BAD[code](key, Ed25519PrivateKey.generate()))
    with caplog.at_level("WARNING", logger="otswarm.rollout.adopter"):
        assert adopter.at_tick_boundary(EMPTY) is before
    status = statuses.get(timeout=5).message
    assert (status.outcome, status.code) == (Outcome.REFUSED, code)
    assert status.policy == file_sha256(HARVEST)
    assert adopter.previous is None
    assert any(getattr(r, "fields", {}).get("code") == code
               for r in caplog.records), caplog.text  # fmt: skip
    assert len(list(adopter.store_dir.glob("*.tflite"))) == 0  # nothing refused stays


def test_without_an_operator_key_every_rollout_is_refused(swarm):
    bus, key, adopter, statuses = swarm
    adopter.trusted_key = None
    _send(bus, rollout_of(key, UNIFORM, SWARM))
    adopter.at_tick_boundary(FULL)
    assert statuses.get(timeout=5).message.code == "no_operator_key"


def test_a_rollout_for_other_agents_is_ignored(swarm):
    bus, key, adopter, statuses = swarm
    before = adopter.policy
    _send(bus, rollout_of(key, UNIFORM, SWARM, targets=("a2", "a3")))
    assert adopter.at_tick_boundary(FULL) is before
    assert statuses.empty()


def test_an_older_rollout_cannot_replace_a_newer_one(swarm):
    bus, key, adopter, statuses = swarm
    newer = rollout_of(key, UNIFORM, SWARM, issued_us=2_000_000)
    _send(bus, newer)
    adopter.at_tick_boundary(FULL)
    assert statuses.get(timeout=5).message.outcome is Outcome.ADOPTED
    _send(bus, rollout_of(key, HARVEST, SWARM, issued_us=1_000_000), sequence=2)
    adopter.at_tick_boundary(FULL)
    status = statuses.get(timeout=5).message
    assert (status.outcome, status.code) == (Outcome.REFUSED, "stale")
    assert adopter.current.sha256 == file_sha256(UNIFORM)
    _send(bus, dataclasses.replace(newer), sequence=3)  # the same rollout again (stage 2)
    adopter.at_tick_boundary(FULL)
    status = statuses.get(timeout=5).message
    assert (status.outcome, status.detail) == (Outcome.ADOPTED, "already running it")


def test_a_policy_that_fails_after_adoption_is_rolled_back_and_not_retried(swarm):
    bus, key, adopter, statuses = swarm
    old = adopter.policy
    rollout = rollout_of(key, GATED, SWARM)
    _send(bus, rollout)
    gated = adopter.at_tick_boundary(FULL)  # a full battery: the smoke inference passes
    assert statuses.get(timeout=5).message.outcome is Outcome.ADOPTED
    assert adopter.watch(_probs(gated, FULL)) is gated
    for _ in range(2):  # the battery drains: no distribution any more
        assert adopter.watch(_probs(gated, EMPTY)) is gated
    assert adopter.watch(None) is old  # third failure in a row
    status = statuses.get(timeout=5).message
    assert (status.outcome, status.code) == (Outcome.ROLLED_BACK, "failed")
    assert status.policy == file_sha256(HARVEST) and status.rollout == file_sha256(GATED)
    _send(bus, rollout, sequence=2)  # delivered again: answered, not adopted again
    assert adopter.at_tick_boundary(FULL) is old
    assert statuses.get(timeout=5).message.outcome is Outcome.ROLLED_BACK


def test_one_good_decision_resets_the_failure_count(swarm):
    bus, key, adopter, _ = swarm
    _send(bus, rollout_of(key, GATED, SWARM))
    gated = adopter.at_tick_boundary(FULL)
    for _ in range(5):
        adopter.watch(None)
        adopter.watch(None)
        assert adopter.watch(_probs(gated, FULL)) is gated


def test_the_signature_covers_every_field(swarm):
    _, key, adopter, _ = swarm
    from otswarm.rollout.errors import BadSignatureError
    from otswarm.rollout.signing import check_signature

    good = rollout_of(key, UNIFORM, SWARM, targets=("a1",))
    check_signature(good, adopter.trusted_key)
    for change in (
        {"issued_us": good.issued_us + 1},
        {"targets": ()},
        {"swarm": "other"},
        {"card": good.card + b" "},
        {"model": good.model[:-1] + b"\x00"},
    ):
        with pytest.raises(BadSignatureError):
            check_signature(dataclasses.replace(good, **change), adopter.trusted_key)
    assert decode(encode(good, agent=OPERATOR, round=0, sequence=1, timestamp_us=1)).message == good


def _tampered(rollout: Rollout) -> Rollout:
    model = bytearray(rollout.model)
    model[len(model) // 2] ^= 0x01
    return dataclasses.replace(rollout, model=bytes(model))


def test_a_cleared_retained_rollout_is_ignored_quietly(swarm):
    """``otswarm rollout`` withdraws a rollout by clearing the retained topic (an empty payload)."""
    bus, _, adopter, statuses = swarm
    bus.inject(topic(SWARM, OPERATOR, Kind.ROLLOUT), b"")
    before = adopter.policy
    assert adopter.at_tick_boundary(FULL) is before
    assert adopter.link.stats().decode_errors == 0 and statuses.empty()


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ("[policy]\nmax_model_bytes = 70000\n", "max_model_bytes"),
        ("[policy]\nrollback_after = 0\n", "rollback_after"),
        ("[policy]\noperator_key = 3\n", "operator_key"),
    ],
)
def test_rollout_config_keys_are_checked(table, match):
    with pytest.raises(ConfigError, match=match):
        parse_config('[agent]\nid = "a1"\n' + table)


def test_no_agent_may_be_called_operator():
    with pytest.raises(ConfigError, match="operator"):
        parse_config('[agent]\nid = "operator"\n')
    config = parse_config('[agent]\nid = "a1"\n[policy]\noperator_key = "/etc/otswarm/o.pub"\n')
    assert (config.policy.max_model_bytes, config.policy.rollback_after) == (49152, 3)


def test_on_a_swarm_with_per_agent_keys_the_rollout_is_checked_against_the_roster(tmp_path):
    """Every message must carry a signature the roster vouches for; ``operator`` is in it."""
    from otswarm.identity import AgentIdentity, Roster

    operator, _, public = write_keys(tmp_path / "keys")
    agent_key = Ed25519PrivateKey.generate()
    roster = Roster(SWARM, 1, {"a1": agent_key.public_key(), OPERATOR: operator.public_key()})
    identity = AgentIdentity("a1", agent_key, operator.public_key(), roster)
    bus = InProcessBus(SWARM)
    link = bus.link("a1", identity=identity).start()
    policy = Policy(HARVEST, expected_observation=HARVEST_OBSERVATION)
    adopter = PolicyRollout(
        "a1", SWARM, link, policy, file_sha256(HARVEST), trusted_key=read_public_key(public),
        contract=contract_of(policy, HARVEST_OBSERVATION, 16384), store_dir=tmp_path / "p",
    )  # fmt: skip
    rollout = rollout_of(operator, UNIFORM, SWARM)
    where = topic(SWARM, OPERATOR, Kind.ROLLOUT)
    header = {"agent": OPERATOR, "round": 0, "sequence": 1, "timestamp_us": rollout.issued_us}
    bus.inject(where, encode(rollout, **header))  # no message signature: dropped by the link
    assert adopter.at_tick_boundary(FULL) is policy
    assert link.stats().rejected == 1
    bus.inject(where, encode(rollout, **{**header, "sequence": 2}, signer=operator))
    assert adopter.at_tick_boundary(FULL) is not policy
    assert adopter.current.sha256 == file_sha256(UNIFORM)
    assert OPERATOR not in link.members()
    bus.close()
