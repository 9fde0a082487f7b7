"""Per-agent Ed25519 signatures on summaries, checked against the operator's roster."""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.identity import Roster, generate_private_key
from otswarm.summaries import (
    ForgedMessageError,
    Histogram,
    SummaryDecodeError,
    UnknownSignerError,
    UnsignedMessageError,
    decode,
    encode,
)

KEYS = {agent: generate_private_key() for agent in ("a0", "a1")}
ROSTER = Roster("field", 1, {a: k.public_key() for a, k in KEYS.items()})
SWARM_KEY = b"swarm-key-0123456789"
MESSAGE = Histogram(np.ones(8) / 8)
HEADER = {"round": 3, "sequence": 1, "timestamp_us": 10**15, "session": 7}


def _payload(agent="a0", signer=None, key=None) -> bytes:
    signer = KEYS[agent] if signer is None else signer
    return encode(MESSAGE, agent=agent, signer=signer, key=key, **HEADER)


def test_signed_message_verifies_against_the_roster():
    envelope = decode(_payload(), roster=ROSTER)
    assert envelope.header.agent_signed and envelope.header.session == 7
    assert np.allclose(envelope.message.weights, MESSAGE.weights, atol=2e-5)
    assert envelope.size == len(encode(MESSAGE, agent="a0", **HEADER)) + 64
    assert decode(_payload()).message == envelope.message  # without a roster: skipped


def test_a_member_cannot_speak_for_another():
    forged = _payload(agent="a1", signer=KEYS["a0"])  # a0's key, a1's name
    with pytest.raises(ForgedMessageError, match="not signed by a1"):
        decode(forged, roster=ROSTER)


def test_an_id_outside_the_roster_is_refused():
    with pytest.raises(UnknownSignerError, match="ghost"):
        decode(_payload(agent="ghost", signer=generate_private_key()), roster=ROSTER)


def test_unsigned_message_is_refused_when_signatures_are_required():
    with pytest.raises(UnsignedMessageError, match="no signature"):
        decode(encode(MESSAGE, agent="a0", key=SWARM_KEY, **HEADER), roster=ROSTER)


def test_tag_and_signature_together_are_both_checked():
    payload = _payload(key=SWARM_KEY)
    decode(payload, key=SWARM_KEY, roster=ROSTER)
    with pytest.raises(ForgedMessageError, match="HMAC"):
        decode(payload, key=b"another-key-0123456", roster=ROSTER)


@pytest.mark.parametrize("offset", [6, 10, 14, 18, 27, 40, -70, -1])
def test_any_flipped_byte_breaks_the_signature(offset):
    payload = bytearray(_payload())
    payload[offset] ^= 0x01
    with pytest.raises(SummaryDecodeError):
        decode(bytes(payload), roster=ROSTER)


def test_signature_cut_off_is_a_typed_error():
    with pytest.raises(SummaryDecodeError):
        decode(_payload()[:-64], roster=ROSTER)
