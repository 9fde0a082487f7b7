"""The codec's short paths (issue #14): each gives what the checked path gives, and
refuses what it refuses.

The encoder packs the header without building a Header, the decoder builds its
Header and Histogram without re-running their checks, the HMAC reuses the keyed
pads and the quantiser works in uint16: each is attacked here against the slow,
obvious version of itself.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from summary_support import BODY, HEADER, KEY

from otswarm.summaries import (
    Header,
    Histogram,
    InvalidFieldError,
    Kind,
    SummaryValueError,
    TruncatedPayloadError,
    decode,
    encode,
)
from otswarm.summaries.auth import make_tag
from otswarm.summaries.bodies import encode_body
from otswarm.summaries.quantize import SCALE, quantize_weights

HIST = Histogram(np.random.default_rng(1).dirichlet(np.ones(32)), -1.0, 1.0, 9)


@settings(max_examples=200, deadline=None)
@given(key=st.binary(min_size=0, max_size=200), data=st.binary(min_size=0, max_size=300))
def test_tag_is_the_standard_hmac_sha256_for_any_key_and_data(key, data):
    # keys longer than SHA-256's 64-byte block are hashed first (RFC 2104)
    assert make_tag(key, data) == hmac.digest(key, data, hashlib.sha256)[:16]


def test_many_keys_in_turn_keep_their_own_tags():
    keys = [bytes([i]) * (i + 1) for i in range(20)]  # more keys than the cache holds
    for _ in range(2):
        for key in keys:
            assert make_tag(key, b"x") == hmac.digest(key, b"x", hashlib.sha256)[:16]


def _largest_remainder(weights: np.ndarray) -> list[int]:
    """Hamilton's rule, spelled out: floors, then +1 for the largest fractions (ties:
    lower index first)."""
    scaled = [float(w) * SCALE for w in weights]
    floors = [math.floor(x) for x in scaled]
    order = sorted(range(len(scaled)), key=lambda i: (-(scaled[i] - floors[i]), i))
    for i in order[: SCALE - sum(floors)]:
        floors[i] += 1
    return floors


@pytest.mark.parametrize(
    "weights",
    [
        np.ones(32) / 32,  # 32 equal fractions: the tie-break decides 31 of them
        np.ones(3) / 3,
        np.array([1.0]),
        np.array([0.5, 0.5, 0.0]),
        np.random.default_rng(0).dirichlet(np.ones(4096)),
        np.random.default_rng(2).dirichlet(np.full(40, 0.05)),  # many near-zero weights
    ],
    ids=["uniform-32", "thirds", "one", "with-zero", "4096", "sparse"],
)
def test_quantiser_is_the_largest_remainder_rule(weights):
    weights = Histogram(weights).weights  # normalised as every message holds them
    got = struct.unpack(f"<{weights.size}H", quantize_weights(weights))
    assert list(got) == _largest_remainder(weights)
    assert sum(got) == SCALE


def test_encoder_header_is_the_header_packed():
    payload = encode(HIST, **HEADER, session=5, key=KEY)
    header = Header(Kind.HISTOGRAM, session=5, signed=True, **HEADER)
    assert payload.startswith(header.pack() + encode_body(HIST))
    assert decode(payload, key=KEY).header == header  # the decoder's Header is a real one


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("round", -1),
        ("round", 1 << 32),
        ("sequence", 2.0),
        ("sequence", np.int64(3)),  # refused as the Header refuses it
        ("timestamp_us", 1 << 64),
        ("timestamp_us", None),
        ("session", "1"),
    ],
)
def test_encoder_refuses_what_a_header_refuses(field, value):
    fields = {**HEADER, "session": 0, field: value}
    with pytest.raises(SummaryValueError, match=f"header {field} must be a u"):
        encode(HIST, **fields)
    with pytest.raises(SummaryValueError, match=f"header {field} must be a u"):
        Header(Kind.HISTOGRAM, **fields)


def test_encoder_takes_a_bool_counter_as_the_header_does():
    fields = {**HEADER, "round": True}
    assert Header(Kind.HISTOGRAM, **fields).round == 1
    assert decode(encode(HIST, **fields)).header.round == 1


@pytest.mark.parametrize("agent", ["", "a/b", "x" * 33, "é"])
def test_encoder_refuses_bad_agent_ids(agent):
    with pytest.raises(SummaryValueError, match="header agent"):
        encode(HIST, **{**HEADER, "agent": agent})


def _with_support(lo: float, hi: float) -> bytes:
    payload = bytearray(encode(HIST, **HEADER))
    struct.pack_into("<ff", payload, BODY + 4, lo, hi)
    return bytes(payload)


@pytest.mark.parametrize(
    ("lo", "hi", "match"),
    [
        (float("nan"), 1.0, "finite"),
        (0.0, float("inf"), "finite"),
        (float("-inf"), 1.0, "finite"),
        (1.0, 1.0, "lo < hi"),
        (2.0, 1.0, "lo < hi"),
    ],
)
def test_decoded_histogram_support_is_still_checked(lo, hi, match):
    assert decode(_with_support(-1.0, 1.0)).message == decode(encode(HIST, **HEADER)).message
    with pytest.raises(InvalidFieldError, match=match):
        decode(_with_support(lo, hi))


def test_decoded_histogram_is_a_frozen_copy_equal_to_a_checked_one():
    payload = encode(HIST, **HEADER, key=KEY)
    got = decode(payload, key=KEY).message
    checked = Histogram(got.weights.copy(), got.lo, got.hi, got.support_id)
    assert got == checked and got.weights.dtype == np.float64
    assert np.abs(got.weights - checked.weights).max() <= 1e-15
    with pytest.raises(ValueError):
        got.weights[0] = 1.0  # read-only, as a constructed message's weights
    assert not np.shares_memory(got.weights, np.frombuffer(payload, np.uint8))


def test_body_errors_name_the_sender_kind_and_sequence():
    payload = encode(HIST, **HEADER)
    with pytest.raises(TruncatedPayloadError, match=r"\(agent-0001/histogram #42\): histogram"):
        decode(payload[:-1])
    with pytest.raises(TruncatedPayloadError, match=r"^payload: header needs"):
        decode(payload[:10])  # before the header is read, the payload alone


def test_tagged_decoder_reads_only_the_body_before_the_tag():
    payload = encode(HIST, **HEADER, key=KEY)
    assert decode(payload, key=KEY).size == len(payload)
    # one byte more before the tag: the tag check fails, not the body's length check
    longer = payload[:-16] + b"\0" + payload[-16:]
    with pytest.raises(Exception, match="HMAC tag does not match"):
        decode(longer, key=KEY)
    with pytest.raises(TruncatedPayloadError, match="trailing"):
        decode(longer)  # unchecked tag: the body is one byte too long
