"""The rollout kinds on the wire: exact round trips, limits, and only typed errors on
truncated or mutated payloads."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from test_summaries_fuzz import _mutate

from otswarm.summaries import (
    Outcome,
    Rollout,
    RolloutStatus,
    SizeLimitError,
    SummaryDecodeError,
    SummaryValueError,
    decode,
    encode,
)
from otswarm.summaries.rollout import MAX_DETAIL

HEADER = {"agent": "operator", "round": 0, "sequence": 1, "timestamp_us": 10**15}
ROLLOUT = Rollout(10**15, "swarm-1", ("a1", "b.2"), b'{"format": 1}', bytes(range(256)) * 8,
                  b"12345678", bytes(64))  # fmt: skip
STATUS = RolloutStatus(Outcome.REFUSED, 10**15, bytes(32), bytes(range(32)), "too_large", "é" * 9)


@pytest.mark.parametrize("message", [ROLLOUT, STATUS, Rollout(1, "s", (), b"c", b"m")])
def test_round_trip_is_exact(message):
    assert decode(encode(message, **HEADER)).message == message


def test_every_truncation_and_mutation_is_a_typed_error():
    rng = np.random.default_rng(0)
    for message in (ROLLOUT, STATUS):
        payload = encode(message, **HEADER)
        for end in range(len(payload)):
            with pytest.raises(SummaryDecodeError):
                decode(payload[:end])
        for _ in range(2000):
            with contextlib.suppress(SummaryDecodeError):  # anything else fails the test
                decode(_mutate(rng, payload))


def test_limits_on_both_sides():
    with pytest.raises(SummaryValueError, match="signature"):
        Rollout(1, "s", (), b"c", b"m", bytes(8), b"short")
    with pytest.raises(SummaryValueError, match="model"):
        Rollout(1, "s", (), b"c", b"")
    with pytest.raises(SummaryValueError, match="bytes"):  # the whole payload: one MQTT message
        encode(Rollout(1, "s", (), bytes(40000), bytes(40000)), **HEADER)
    with pytest.raises(SizeLimitError):
        decode(bytes(encode(Rollout(1, "s", (), b"c", b"m"), **HEADER)) + bytes(70000))
    long = RolloutStatus(Outcome.REFUSED, 1, bytes(32), bytes(32), "x", "ü" * 2000)
    assert len(long.detail.encode()) <= MAX_DETAIL and long.detail.endswith("…")
    with pytest.raises(SummaryValueError, match="outcome"):
        RolloutStatus(9, 1, bytes(32), bytes(32), "x")
