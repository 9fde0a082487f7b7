"""The wire format: round trips, sizes, quantisation error and validation."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otswarm.summaries import (
    AllocationPlan,
    BadMagicError,
    EnergyOffer,
    Heartbeat,
    Histogram,
    InvalidFieldError,
    Kind,
    PointCloud,
    SizeLimitError,
    State,
    SummaryDecodeError,
    SummaryValueError,
    Transfer,
    TransferReport,
    TruncatedPayloadError,
    UnknownKindError,
    UnsupportedVersionError,
    decode,
    encode,
)
from otswarm.summaries.bodies import encode_body
from otswarm.summaries.quantize import SCALE

KEY = b"swarm-key-0123456789"
HEADER = {"agent": "agent-0001", "round": 7, "sequence": 42, "timestamp_us": 1_800_000_000_000_000}


def _roundtrip(message, key=None):
    envelope = decode(encode(message, key=key, **HEADER), key=key)
    assert envelope.header.kind == message.KIND
    assert (envelope.header.agent, envelope.header.round) == ("agent-0001", 7)
    assert (envelope.header.sequence, envelope.header.timestamp_us) == (42, HEADER["timestamp_us"])
    return envelope.message


EXACT_MESSAGES = [
    EnergyOffer(12.5, 0.0, (1.0, -2.0, 0.25), 0.05, 200),
    AllocationPlan(3, "head-1", (Transfer("a", "b", 1.5), Transfer("c", "b", 2.0))),
    AllocationPlan(0, "head-1"),
    TransferReport(3, "head-1", (Transfer("a", "b", 1.25), Transfer("a", "c", 0.0))),
    Heartbeat(2.0, 0.75),
    Heartbeat(5.0),
    State(True, 5.0),
    State(False, 0.5),
]


@pytest.mark.parametrize("message", EXACT_MESSAGES, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("key", [None, KEY], ids=["unsigned", "signed"])
def test_exact_kinds_round_trip(message, key):
    assert _roundtrip(message, key) == message


@settings(max_examples=150, deadline=None)
@given(
    weights=st.lists(st.floats(0, 1e6), min_size=1, max_size=300).filter(lambda w: sum(w) > 0),
    lo=st.floats(-1e3, 1e3),
    width=st.floats(1e-2, 1e3),
    support=st.integers(0, 65535),
)
def test_histogram_round_trip_within_the_stated_bound(weights, lo, width, support):
    w = np.array(weights) / np.sum(weights)
    sent = Histogram(w, lo, lo + width, support)
    got = _roundtrip(sent, KEY)
    n = w.size
    assert (got.lo, got.hi, got.support_id) == (sent.lo, sent.hi, sent.support_id)
    assert got.weights.sum() == pytest.approx(1.0, abs=1e-12)  # float rounding of q / sum q
    # the bounds of runtime/summaries/quantize.py (+1e-12 for float rounding)
    assert np.max(np.abs(got.weights - sent.weights)) < 1 / SCALE + 1e-12
    assert np.abs(got.weights - sent.weights).sum() <= n / (2 * SCALE) + 1e-12


def test_point_cloud_round_trip():
    rng = np.random.default_rng(3)
    sent = PointCloud(rng.normal(size=(50, 4)), rng.dirichlet(np.ones(50)))
    got = _roundtrip(sent, KEY)
    assert np.array_equal(got.points, sent.points)  # points are float32 on both sides
    assert np.max(np.abs(got.weights - sent.weights)) < 1 / SCALE


def test_tagged_32_bin_histogram_fits_128_bytes():
    weights = np.random.default_rng(0).dirichlet(np.ones(32))
    for agent in ("a", "agent-0001"):  # ids of up to 10 characters
        header = {**HEADER, "agent": agent}
        assert len(encode(Histogram(weights, -1, 1, 9), key=KEY, **header)) <= 128
        assert len(encode(Histogram(weights, -1, 1, 9), **header)) <= 128 - 16


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Histogram(np.array([0.5, 0.6])), "sum to 1"),
        (lambda: Histogram(np.array([1.5, -0.5])), ">= 0"),
        (lambda: Histogram(np.array([np.nan, 1.0])), "finite"),
        (lambda: Histogram(np.ones(4) / 4, lo=1, hi=1), "lo < hi"),
        (lambda: Histogram(np.ones(4) / 4, support_id=70000), "support_id"),
        (lambda: PointCloud(np.zeros((3, 2)), np.ones(2) / 2), "3 points but 2 weights"),
        (lambda: PointCloud(np.full((1, 1), 1e39), [1.0]), "finite"),
        (lambda: EnergyOffer(-1, 0), "supply_j must be >= 0"),
        (lambda: EnergyOffer(1, 0, loss_fraction=1.0), "loss_fraction"),
        (lambda: Transfer("a", "a", 1), "to itself"),
        (lambda: Transfer("a", "b/c", 1), "transfer target"),
        (lambda: Heartbeat(0), "period_s must be > 0"),
        (lambda: State(1, 1.0), "must be a bool"),
    ],
)
def test_bad_values_are_refused_on_construction(build, match):
    with pytest.raises(SummaryValueError, match=match):
        build()


def _histogram_payload(**changes) -> bytearray:
    return bytearray(encode(Histogram(np.ones(4) / 4), **{**HEADER, **changes}))


def _corrupt(offset: int, fmt: str, value) -> bytes:
    payload = _histogram_payload()
    struct.pack_into(fmt, payload, offset, value)
    return bytes(payload)


BODY = 26 + len("agent-0001")  # header size for this agent


@pytest.mark.parametrize(
    ("payload", "error", "match"),
    [
        (b"", TruncatedPayloadError, "header needs 26 bytes"),
        (_corrupt(0, "<2s", b"XX"), BadMagicError, "magic"),
        (_corrupt(2, "<B", 1), UnsupportedVersionError, "version 1, expected 2"),
        (_corrupt(3, "<B", 99), UnknownKindError, "kind 99"),
        (_corrupt(4, "<B", 0x80), InvalidFieldError, "flags"),
        (_corrupt(26, "<B", ord("/")), InvalidFieldError, "not a valid id"),
        (bytes(_histogram_payload())[:-1], TruncatedPayloadError, "histogram weights"),
        (bytes(_histogram_payload()) + b"\0", TruncatedPayloadError, "trailing"),
        (_corrupt(BODY + 2, "<H", 0), SizeLimitError, "n_bins is 0"),
        (_corrupt(BODY + 4, "<f", float("nan")), InvalidFieldError, "finite"),
        (_corrupt(BODY + 12, "<H", 0), InvalidFieldError, "sum to"),
    ],
)
def test_decoder_names_what_is_wrong(payload, error, match):
    with pytest.raises(error, match=match):
        decode(payload)


def test_plan_with_an_agent_index_out_of_its_table_is_refused():
    payload = bytearray(encode(AllocationPlan(1, "p", (Transfer("a", "b", 1.0),)), **HEADER))
    struct.pack_into("<H", payload, len(payload) - 6, 5)  # target index of the one transfer
    with pytest.raises(InvalidFieldError, match="agent index"):
        decode(bytes(payload))


def test_every_kind_has_a_distinct_topic_name_and_decoder():
    names = {kind.topic_name for kind in Kind}
    assert len(names) == len(Kind)
    for message in EXACT_MESSAGES:
        assert isinstance(decode(encode(message, **HEADER)).message, type(message))


def test_non_bytes_input_is_a_typed_error():
    with pytest.raises(SummaryDecodeError):
        decode("not bytes")  # type: ignore[arg-type]


def _heartbeat_with(flags: int, soc: float) -> bytes:
    payload = bytearray(encode(Heartbeat(2.0, 0.5), **HEADER))
    struct.pack_into("<Bff", payload, len(payload) - 9, flags, 2.0, soc)
    return bytes(payload)


@pytest.mark.parametrize("soc", [float("nan"), 5.0, -0.5, float("inf")])
@pytest.mark.parametrize("flags", [0, 1])
def test_heartbeat_battery_out_of_range_is_refused_known_or_not(flags, soc):
    with pytest.raises(InvalidFieldError, match="battery_soc"):
        decode(_heartbeat_with(flags, soc))
    assert decode(_heartbeat_with(1, 0.25)).message.battery_soc == 0.25
    assert decode(_heartbeat_with(0, 0.0)).message.battery_soc is None


def _plan_with_table(agents: list[bytes], transfers: list[tuple[int, int, float]]) -> bytes:
    """A plan payload built by hand (the encoder never writes a bad table)."""
    body = struct.pack("<I", 1) + bytes([1]) + b"p" + struct.pack("<H", len(agents))
    body += b"".join(bytes([len(a)]) + a for a in agents)
    body += struct.pack("<H", len(transfers))
    body += b"".join(struct.pack("<HHf", s, t, j) for s, t, j in transfers)
    head = encode(AllocationPlan(1, "p"), **HEADER)
    return head[: -len(encode_body(AllocationPlan(1, "p")))] + body


@pytest.mark.parametrize(
    ("agents", "match"),
    [
        ([b"a", b"b", b"bad/id"], "plan agent 2"),  # an unused entry that is no valid id
        ([b"a", b"b", b"\xff\xfe"], "plan agent 2"),
        ([b"a", b"b", b"ghost"], "no transfer names"),  # a valid id no transfer uses
        ([b"a", b"b", b"a"], "twice"),
    ],
)
def test_plan_agent_table_entries_are_all_checked(agents, match):
    decode(_plan_with_table([b"a", b"b"], [(0, 1, 2.0)]))  # the good one decodes
    with pytest.raises(InvalidFieldError, match=match):
        decode(_plan_with_table(agents, [(0, 1, 2.0)]))
