"""HMAC tags and the replay window."""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.summaries import (
    ForgedMessageError,
    FutureMessageError,
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
    header = decode(_payload()).header
    assert header.signed and not header.agent_signed


def _check(guard, sequence, stamp=10, agent="a", message=MESSAGE, session=1, now=0):
    payload = encode(
        message, agent=agent, round=0, sequence=sequence, timestamp_us=stamp, session=session,
        key=KEY,
    )  # fmt: skip
    guard.check(decode(payload, key=KEY).header, now)


def test_replayed_and_too_old_sequences_are_rejected():
    guard = ReplayGuard()
    _check(guard, 1)
    _check(guard, 2)
    with pytest.raises(ReplayError, match="replayed"):
        _check(guard, 2)
    _check(guard, 100)
    with pytest.raises(ReplayError):
        _check(guard, 36)  # 100 - 64: fell out of the window
    _check(guard, 37)  # late but inside the window, not seen before
    with pytest.raises(ReplayError):
        _check(guard, 37)


def test_windows_are_per_sender_and_per_kind():
    guard = ReplayGuard()
    _check(guard, 5)
    _check(guard, 5, agent="b")
    _check(guard, 5, message=State(True, 1.0))
    assert len(guard) == 2


def test_a_new_session_restarts_every_window_of_its_sender():
    guard = ReplayGuard()
    _check(guard, 500, session=1)
    _check(guard, 7, session=1, message=State(True, 1.0))
    _check(guard, 1, session=2)  # the sender restarted: sequences start at 1 again
    _check(guard, 1, session=2, message=State(True, 1.0))
    _check(guard, 2, session=2)
    for sequence in (499, 501, 1):
        with pytest.raises(ReplayError, match="older than the current 2"):
            _check(guard, sequence, session=1)  # messages of the previous session
    with pytest.raises(ReplayError, match="replayed"):
        _check(guard, 1, session=2)


def test_a_will_of_an_older_session_is_refused():
    guard = ReplayGuard()
    _check(guard, 1, session=5, message=State(False, 1.0))  # the will of session 5
    _check(guard, 3, session=6, message=State(True, 1.0))  # session 6 is online
    with pytest.raises(ReplayError, match="session 5"):
        _check(guard, 1, session=5, message=State(False, 1.0))  # the will, replayed


def test_a_future_stamped_message_is_refused_and_leaves_no_trace():
    guard = ReplayGuard(max_skew_s=30)
    now = 1_000_000.0
    with pytest.raises(FutureMessageError, match="ahead of our clock"):
        _check(guard, 10**6, stamp=int((now + 3600) * 1e6), session=1, now=now)
    assert len(guard) == 0
    _check(guard, 1, stamp=int(now * 1e6), session=int(now) - 5, now=now)  # the real one
    _check(guard, 2, stamp=int((now + 29) * 1e6), session=int(now) - 5, now=now)  # within skew


def test_forgotten_sender_starts_again():
    guard = ReplayGuard()
    _check(guard, 9, session=3)
    guard.forget("a")
    _check(guard, 1, session=1)
    assert len(guard) == 1


def test_max_age_rejects_stale_messages():
    guard = ReplayGuard(max_age_s=60)
    header = decode(_payload(stamp=1_000 * 1_000_000)).header
    with pytest.raises(ReplayError, match="older than 60"):
        guard.check(header, now_s=1_061)
    guard.check(header, now_s=1_059)
