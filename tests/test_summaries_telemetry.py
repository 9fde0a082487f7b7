"""The telemetry kind: round trips, what it refuses, and layouts that append fields."""

from __future__ import annotations

import hashlib
import math
import struct

import pytest

from otswarm.summaries import (
    ForgedMessageError,
    InvalidFieldError,
    Kind,
    SizeLimitError,
    SummaryValueError,
    Telemetry,
    TruncatedPayloadError,
    decode,
    encode,
)
from otswarm.summaries.auth import TAG_LEN, make_tag
from otswarm.summaries.header import FIXED
from otswarm.summaries.telemetry import LAYOUT, MAX_COMPONENTS

KEY = b"swarm-key-0123456789"
HEADER = {"agent": "board-7", "round": 3, "sequence": 9, "timestamp_us": 1_800_000_000_000_000}
BODY = FIXED.size + len("board-7")  # offset of the body in an encoded payload

FULL = Telemetry(
    period_s=10.0,
    uptime_s=86_400.125,
    power_w=3.5,
    joules={"idle": 302_400.123456789, "ot": 1.5, "mqtt_tx": 1e-6, "energy_in": 12.0},
    battery_soc=0.75,
    duty=0.5,
    alignment_w1=0.0125,
    drift_w1=0.25,
    plans_executed=42,
    policy_sha256=hashlib.sha256(b"model").digest(),
    board="rpi4",
)


@pytest.mark.parametrize("key", [None, KEY], ids=["unsigned", "signed"])
@pytest.mark.parametrize("message", [FULL, Telemetry(2.0, 0.0, 0.0)], ids=["full", "bare"])
def test_round_trip(message, key):
    envelope = decode(encode(message, key=key, **HEADER), key=key)
    assert envelope.header.kind is Kind.TELEMETRY
    assert envelope.message == message


def test_joules_and_uptime_keep_float64_precision():
    got = decode(encode(FULL, **HEADER)).message
    assert got.joules["idle"] == 302_400.123456789  # f32 would round it to 302400.125
    assert got.uptime_s == 86_400.125
    assert got.policy_hash == hashlib.sha256(b"model").hexdigest()


def test_unknown_figures_stay_unknown():
    got = decode(encode(Telemetry(5.0, 1.0, 2.0, battery_soc=0.0), **HEADER)).message
    assert got.battery_soc == 0.0
    assert (got.duty, got.alignment_w1, got.drift_w1) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"period_s": 0.0}, "period_s must be > 0"),
        ({"power_w": -1.0}, "power_w must be >= 0"),
        ({"battery_soc": 1.5}, "battery_soc must be <= 1"),
        ({"duty": math.nan}, "duty must be finite"),
        ({"uptime_s": math.inf}, "uptime_s must be finite"),
        ({"joules": {"ot": -1.0}}, r"joules\[ot\] must be finite and >= 0"),
        ({"joules": {"Bad Name": 1.0}}, "component 'Bad Name'"),
        ({"joules": {f"c{i}": 1.0 for i in range(MAX_COMPONENTS + 1)}}, "components > 32"),
        ({"plans_executed": -1}, "plans_executed must be in"),
        ({"policy_sha256": b"short"}, "32 bytes"),
        ({"board": "a/b"}, "board 'a/b'"),
    ],
)
def test_values_the_wire_cannot_carry_are_refused(changes, match):
    fields = {**FULL.__dict__, **changes}
    with pytest.raises(SummaryValueError, match=match):
        Telemetry(**fields)


def _body_offsets(message: Telemetry) -> dict[str, int]:
    """Offsets (in an unsigned payload of HEADER) of the fields the tests corrupt."""
    fixed = BODY + struct.calcsize("<BBfdfffffI")
    board = fixed + 32
    count = board + 1 + len(message.board)
    return {"layout": BODY, "flags": BODY + 1, "soc": BODY + 18, "count": count}


@pytest.mark.parametrize(
    ("field", "value", "error", "match"),
    [
        ("layout", 0, InvalidFieldError, "layout 0"),
        ("flags", 0x10, InvalidFieldError, "unknown telemetry flags 0x10"),
        ("count", MAX_COMPONENTS + 1, SizeLimitError, "n_components 33"),
        ("count", 5, TruncatedPayloadError, "component 4"),
    ],
)
def test_decoder_names_what_is_wrong(field, value, error, match):
    payload = bytearray(encode(FULL, **HEADER))
    payload[_body_offsets(FULL)[field]] = value
    with pytest.raises(error, match=match):
        decode(bytes(payload))


def test_out_of_domain_values_on_the_wire_are_invalid_fields():
    payload = bytearray(encode(FULL, **HEADER))
    struct.pack_into("<f", payload, _body_offsets(FULL)["soc"], 2.0)
    with pytest.raises(InvalidFieldError, match="battery_soc must be <= 1"):
        decode(bytes(payload))


def test_a_component_sent_twice_is_refused():
    one = Telemetry(1.0, 1.0, 1.0, {"ot": 1.0})
    payload = bytearray(encode(one, **HEADER))
    entry = payload[-(1 + 2 + 8) :]  # the one component: length, "ot", f64
    payload[_body_offsets(one)["count"]] = 2
    with pytest.raises(InvalidFieldError, match="'ot' twice"):
        decode(bytes(payload + entry))


def test_a_newer_layout_is_read_up_to_what_this_receiver_knows():
    """A sender of layout 2 appended a field; the tag covers it; this receiver skips it."""
    unsigned = bytearray(encode(FULL, **HEADER))
    unsigned[BODY] = LAYOUT + 1
    appended = bytes(unsigned) + b"\x05fresh"
    signed = bytearray(appended)
    signed[4] |= 0x01  # header flag: signed
    signed = bytes(signed) + make_tag(KEY, bytes(signed))
    assert decode(appended).message == FULL
    assert decode(signed, key=KEY).message == FULL
    tampered = signed[: -TAG_LEN - 1] + b"X" + signed[-TAG_LEN:]
    with pytest.raises(ForgedMessageError):
        decode(tampered, key=KEY)


def test_the_known_layout_has_no_trailing_bytes():
    with pytest.raises(TruncatedPayloadError, match="trailing"):
        decode(encode(FULL, **HEADER) + b"\x00")
