"""HMAC tags and the replay window."""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.summaries import (
    ForgedMessageError,
    Histogram,
    ReplayError,
    ReplayGuard,
    State,
    SummaryDecodeError,
    UnsignedMessageError,
    decode,
    encode,
)

KEY = b"swarm-key-0123456789"
MESSAGE = Histogram(np.ones(8) / 8)


def _payload(sequence=1, stamp=1_000_000, key=KEY, agent="a", message=MESSAGE) -> bytes:
    return encode(message, agent=agent, round=0, sequence=sequence, timestamp_us=stamp, key=key)


def test_receiver_with_key_rejects_unsigned():
    with pytest.raises(UnsignedMessageError):
        decode(_payload(key=None), key=KEY)


def test_receiver_with_key_rejects_another_key():
    with pytest.raises(ForgedMessageError):
        decode(_payload(key=b"another-key-0123456"), key=KEY)


@pytest.mark.parametrize("offset", [5, 10, 25, -20, -1])
def test_any_flipped_byte_breaks_the_tag(offset):
    payload = bytearray(_payload())
    payload[offset] ^= 0x01
    with pytest.raises(SummaryDecodeError):  # the tag, or the header it covers
        decode(bytes(payload), key=KEY)


def test_receiver_without_key_reads_signed_messages():
    assert decode(_payload()).header.signed


def _check(guard, sequence, stamp, agent="a", message=MESSAGE):
    guard.check(decode(_payload(sequence, stamp, agent=agent, message=message), key=KEY).header, 0)


def test_replayed_and_too_old_sequences_are_rejected():
    guard = ReplayGuard()
    _check(guard, 1, 10)
    _check(guard, 2, 11)
    with pytest.raises(ReplayError, match="replayed"):
        _check(guard, 2, 11)
    _check(guard, 100, 20)
    with pytest.raises(ReplayError):
        _check(guard, 36, 12)  # 100 - 64: fell out of the window
    _check(guard, 37, 13)  # late but inside the window, not seen before
    with pytest.raises(ReplayError):
        _check(guard, 37, 13)
    with pytest.raises(ReplayError):
        _check(guard, 101, 19)  # a newer sequence with an older time: not this run


def test_windows_are_per_sender_and_per_kind():
    guard = ReplayGuard()
    _check(guard, 5, 10)
    _check(guard, 5, 10, agent="b")
    _check(guard, 5, 10, message=State(True, 1.0))


def test_a_restarted_sender_is_accepted_by_its_newer_timestamp():
    guard = ReplayGuard()
    _check(guard, 500, 1_000)
    _check(guard, 1, 2_000)  # sequences restart at 1, the clock moved on
    _check(guard, 2, 2_001)
    for sequence, stamp in ((499, 999), (501, 1_001), (1, 1_000)):
        with pytest.raises(ReplayError):
            _check(guard, sequence, stamp)  # messages of the previous run


def test_max_age_rejects_stale_messages():
    guard = ReplayGuard(max_age_s=60)
    header = decode(_payload(stamp=1_000 * 1_000_000)).header
    with pytest.raises(ReplayError, match="older than 60"):
        guard.check(header, now_s=1_061)
    guard.check(header, now_s=1_059)
