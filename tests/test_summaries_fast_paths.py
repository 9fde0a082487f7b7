"""The codec's fast paths of issue #14's 10 µs target, each attacked against the slow,
obvious version of itself: the quantiser's zero-vector marking, the dequantiser's
0-d divisor, the agent-id tables of the header, the per-key HMAC pads, the reader's
inline bounds checks, the histogram's one-comparison support check and the encoder's
one lookup for kind and body encoder.
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
    EnergyOffer,
    Heartbeat,
    Histogram,
    InvalidFieldError,
    SizeLimitError,
    SummaryDecodeError,
    SummaryValueError,
    TruncatedPayloadError,
    decode,
    encode,
)
from otswarm.summaries import header as header_module
from otswarm.summaries.auth import make_tag
from otswarm.summaries.header import MAX_KNOWN_IDS
from otswarm.summaries.messages import MAX_BINS
from otswarm.summaries.quantize import SCALE, quantize_weights

WEIGHTS = BODY + 12  # where its weights start


def _hamilton(weights: np.ndarray) -> list[int]:
    """Largest remainder in plain Python: floors, then +1 for the ``S - sum floors``
    largest fractional parts, equal fractions by lower index."""
    scaled = [float(w) * SCALE for w in weights]
    floors = [math.floor(x) for x in scaled]
    order = sorted(range(len(scaled)), key=lambda i: (floors[i] - scaled[i], i))
    for i in order[: SCALE - sum(floors)]:
        floors[i] += 1
    return floors


def _quantised(weights: np.ndarray) -> list[int]:
    got = quantize_weights(weights)
    return list(struct.unpack(f"<{len(got) // 2}H", got))


def _tied(n: int, counts: list[int]) -> np.ndarray:
    """Weights ``counts / sum`` repeated to ``n`` entries: many equal fractional parts."""
    repeated = np.resize(np.array(counts, dtype=float), n)
    return repeated / repeated.sum()


ADVERSARIAL = {
    "one-bin": np.array([1.0]),
    "two-halves": np.array([0.5, 0.5]),
    "uniform-3": np.ones(3) / 3,
    "uniform-7": np.ones(7) / 7,
    "uniform-32": np.ones(32) / 32,  # 31 of 32 equal fractions get the +1: ties decide
    "uniform-255": np.ones(255) / 255,
    "one-hot-32": np.eye(32)[17],
    "one-hot-255-last": np.eye(255)[254],
    "zeros-and-thirds": np.array([0.0, 1 / 3, 0.0, 1 / 3, 0.0, 1 / 3]),
    "tied-groups-32": _tied(32, [1, 2, 3]),
    "tied-groups-255": _tied(255, [5, 1, 1, 7]),
    "tiny-and-large": np.array([1e-12] * 31 + [1.0 - 31e-12]),
    "max-bins": np.random.default_rng(3).dirichlet(np.ones(MAX_BINS)),
}


@pytest.mark.parametrize("weights", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_quantiser_marks_exactly_the_largest_remainders(weights):
    weights = Histogram(weights).weights  # normalised as every message holds them
    got = _quantised(weights)
    assert got == _hamilton(weights)
    assert sum(got) == SCALE


@settings(max_examples=300, deadline=None)
@given(
    raw=st.lists(
        st.one_of(st.just(0.0), st.integers(1, 9).map(float), st.floats(0, 1)),
        min_size=1,
        max_size=255,
    ).filter(lambda w: sum(w) > 0)
)
def test_quantiser_is_hamiltons_rule_on_random_weights(raw):
    # small integers give equal fractional parts; zeros and exact floats the edge cases
    weights = Histogram(np.array(raw) / sum(raw)).weights
    assert _quantised(weights) == _hamilton(weights)


def _with_weights(q: list[int]) -> bytes:
    """An untagged histogram payload of ``len(q)`` bins carrying the uint16 weights ``q``."""
    payload = bytearray(encode(Histogram(np.ones(len(q)) / len(q)), **HEADER))
    struct.pack_into(f"<{len(q)}H", payload, WEIGHTS, *q)
    return bytes(payload)


def _off_by(n: int, delta: int) -> list[int]:
    q = [SCALE // n] * n
    q[0] += SCALE - sum(q) + delta
    return q


# (bins, sum - S); one bin cannot carry more than S
SUMS = [(1, 0), (1, -1)] + [(n, d) for n in (2, 32, 255) for d in (0, 1, -1, n, -n)]


@pytest.mark.parametrize(("n", "delta"), SUMS)
def test_dequantiser_is_q_over_its_sum_within_the_tolerance(n, delta):
    q = _off_by(n, delta)
    got = decode(_with_weights(q)).message.weights
    expected = np.array(q, dtype=np.float64) / float(sum(q))  # the slow, obvious quotient
    assert got.tobytes() == expected.tobytes()  # bit for bit, 0-d divisor or not
    assert got.dtype == np.float64 and not got.flags.writeable


@pytest.mark.parametrize(("n", "sign"), [(1, -1), (32, 1), (32, -1), (255, 1), (255, -1)])
def test_dequantiser_refuses_a_sum_one_past_the_tolerance(n, sign):
    with pytest.raises(InvalidFieldError, match=f"sum to {SCALE + sign * (n + 1)}"):
        decode(_with_weights(_off_by(n, sign * (n + 1))))


def test_dequantiser_is_the_quotient_for_every_uint16_value():
    # two bins (v, S - v) for every v: each uint16 value is divided by the 0-d S once
    payload = bytearray(_with_weights([SCALE, 0]))
    for v in range(SCALE + 1):
        struct.pack_into("<2H", payload, WEIGHTS, v, SCALE - v)
        got = decode(bytes(payload)).message.weights
        assert got.tobytes() == (np.array([v, SCALE - v]) / float(SCALE)).tobytes()


def test_one_hot_and_zero_weights_round_trip_exactly():
    for weights in (np.eye(32)[0], np.eye(255)[254], np.array([0.0, 1.0, 0.0])):
        got = decode(encode(Histogram(weights), **HEADER)).message.weights
        assert np.array_equal(got, weights)


def _with_agent(raw: bytes, payload: bytes | None = None) -> bytes:
    """``payload`` (a histogram by default) with its agent id replaced by ``raw``."""
    payload = payload or encode(Histogram(np.ones(4) / 4), **HEADER)
    old = payload[5]
    return payload[:5] + bytes([len(raw)]) + payload[6:26] + raw + payload[26 + old :]


@pytest.mark.parametrize(
    "raw",
    [b"", b"a/b", b"a+b", b"x" * 33, "é".encode(), b"\xff", b"a\x00", b"a b"],
    ids=["empty", "slash", "plus", "33-long", "utf8", "non-ascii", "nul", "space"],
)
def test_decoder_refuses_bad_agent_ids_after_hearing_good_ones(raw):
    good = _with_agent(b"agent-0001")
    for _ in range(3):  # heard and remembered first
        assert decode(good).header.agent == "agent-0001"
    for _ in range(3):  # a bad id is never remembered: refused every time
        with pytest.raises((InvalidFieldError, TruncatedPayloadError)):
            decode(_with_agent(raw))
    assert raw not in header_module._HEARD_IDS
    assert header_module._HEARD_IDS[b"agent-0001"] == "agent-0001"  # the good one is


def test_id_tables_stay_bounded_and_right_under_a_flood_of_ids():
    ids = [f"flood-{i}" for i in range(3 * MAX_KNOWN_IDS)]
    for agent in ids:
        payload = encode(Heartbeat(1.0), **{**HEADER, "agent": agent})
        assert decode(payload).header.agent == agent
        assert len(header_module._SENT_IDS) <= MAX_KNOWN_IDS
        assert len(header_module._HEARD_IDS) <= MAX_KNOWN_IDS
    for agent in ids[:5] + ids[-5:]:  # forgotten and remembered again: still the same id
        assert decode(encode(Heartbeat(1.0), **{**HEADER, "agent": agent})).header.agent == agent


class _SneakyId(str):
    """A str subclass that hashes and compares like a valid id it is not."""

    def __hash__(self) -> int:
        return hash("agent-0001")

    def __eq__(self, other: object) -> bool:
        return other == "agent-0001"


def test_encoder_checks_ids_it_cannot_trust_every_time():
    encode(Heartbeat(1.0), **HEADER)  # "agent-0001" is remembered
    with pytest.raises(SummaryValueError, match="header agent"):
        encode(Heartbeat(1.0), **{**HEADER, "agent": _SneakyId("bad/id")})
    for agent in (b"agent-0001", None, 7, ["agent-0001"]):  # not a str: a typed error
        with pytest.raises(SummaryValueError, match="header agent"):
            encode(Heartbeat(1.0), **{**HEADER, "agent": agent})


def test_a_valid_id_after_an_invalid_one_is_encoded_as_checked():
    with pytest.raises(SummaryValueError):
        encode(Heartbeat(1.0), **{**HEADER, "agent": "bad/id"})
    assert "bad/id" not in header_module._SENT_IDS
    payload = encode(Heartbeat(1.0), **{**HEADER, "agent": "ok.id-9"})
    assert payload[26 : 26 + payload[5]] == b"ok.id-9"
    assert header_module._SENT_IDS["ok.id-9"] == b"ok.id-9"  # remembered once checked


@pytest.mark.parametrize("flags", range(4))
def test_header_flag_bits_are_the_masks_as_bools(flags):
    payload = bytearray(encode(Heartbeat(1.0), **HEADER))
    payload[4] = flags  # the tag and signature checks are not asked for: only the bits
    payload += bytes(16 * (flags & 1) + 64 * (flags >> 1))
    header = decode(bytes(payload)).header
    assert header.signed is bool(flags & 1) and header.agent_signed is bool(flags & 2)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_tag_of_any_bytes_like_key_is_the_standard_hmac(kind):
    for raw in (b"", b"k", KEY, bytes(range(64)), bytes(range(65)), b"\x07" * 200):
        key = kind(raw)
        assert make_tag(key, b"data") == hmac.digest(raw, b"data", hashlib.sha256)[:16]
    payload = encode(Heartbeat(1.0), **HEADER, key=kind(KEY))
    assert payload == encode(Heartbeat(1.0), **HEADER, key=KEY)
    assert decode(payload, key=kind(KEY)).message == Heartbeat(1.0)


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "tagged"])
def test_every_prefix_and_extension_is_a_typed_refusal(key):
    payload = encode(Histogram(np.ones(32) / 32), **HEADER, key=key)
    for end in range(len(payload)):
        with pytest.raises(SummaryDecodeError):
            decode(payload[:end], key=key)
    for extra in (b"\0", b"\0" * 2, b"\0" * 16):
        with pytest.raises(SummaryDecodeError):
            decode(payload + extra, key=key)


@pytest.mark.parametrize("announced", [31, 33, 0, MAX_BINS + 1, 65535])
def test_n_bins_that_does_not_match_the_weights_is_refused(announced):
    # the last bin empty: 31 bins alone sum to S, so only the length can refuse them
    payload = bytearray(encode(Histogram(np.r_[np.ones(31) / 31, 0.0]), **HEADER))
    struct.pack_into("<H", payload, BODY + 2, announced)
    error = SizeLimitError if not 1 <= announced <= MAX_BINS else TruncatedPayloadError
    with pytest.raises(error):
        decode(bytes(payload))


def test_n_bins_at_its_limits_is_accepted():
    for n in (1, MAX_BINS):
        assert decode(encode(Histogram(np.ones(n) / n), **HEADER)).message.weights.size == n


F32_MAX = float(np.finfo(np.float32).max)
BOUNDS = [-math.inf, -F32_MAX, -1.0, 0.0, 1.0, F32_MAX, math.inf, math.nan]


@pytest.mark.parametrize("lo", BOUNDS)
@pytest.mark.parametrize("hi", BOUNDS)
def test_decoded_support_is_accepted_exactly_when_the_constructor_accepts_it(lo, hi):
    payload = bytearray(encode(Histogram(np.ones(4) / 4), **HEADER))
    struct.pack_into("<ff", payload, BODY + 4, lo, hi)
    try:
        Histogram(np.ones(4) / 4, lo, hi)  # the slow path: every check of the constructor
    except SummaryValueError:
        with pytest.raises(InvalidFieldError):
            decode(bytes(payload))
    else:
        got = decode(bytes(payload)).message
        assert (got.lo, got.hi) == (lo, hi)


class _NotQuiteAnOffer(EnergyOffer):
    """A subclass of a message kind: not a kind the wire format knows."""


@pytest.mark.parametrize(
    "message",
    [object(), "histogram", None, _NotQuiteAnOffer(1.0, 0.0)],
    ids=["object", "str", "None", "subclass"],
)
def test_encoder_refuses_what_is_not_a_message_kind(message):
    with pytest.raises(SummaryValueError, match="not a message kind"):
        encode(message, **HEADER)
