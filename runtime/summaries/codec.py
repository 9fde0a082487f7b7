"""Encode and decode whole summaries: header, body and optional HMAC tag.

``decode`` validates everything (length, magic, version, kind, flags, ids, sizes,
finite values, weights) and raises a SummaryDecodeError subclass on any fault;
it never raises anything else on bytes input.
"""

from __future__ import annotations

from dataclasses import dataclass

from otswarm.summaries.auth import TAG_LEN, make_tag, tag_matches
from otswarm.summaries.bodies import decode_body, encode_body
from otswarm.summaries.errors import (
    ForgedMessageError,
    SizeLimitError,
    SummaryValueError,
    TruncatedPayloadError,
    UnsignedMessageError,
)
from otswarm.summaries.header import Header, read_header
from otswarm.summaries.kinds import MESSAGE_TYPES, Message
from otswarm.summaries.reader import PayloadReader

MAX_PAYLOAD = 65536  # bytes; the largest point cloud (16384 float32 values) fits


@dataclass(frozen=True)
class Envelope:
    """A decoded summary: its header, its message and its size on the wire (bytes)."""

    header: Header
    message: Message
    size: int


def encode(
    message: Message,
    *,
    agent: str,
    round: int,
    sequence: int,
    timestamp_us: int,
    key: bytes | None = None,
) -> bytes:
    """The wire bytes of ``message`` sent by ``agent``; signed when ``key`` is given."""
    if type(message) not in MESSAGE_TYPES.values():
        raise SummaryValueError(f"cannot encode {type(message).__name__}: not a message kind")
    header = Header(message.KIND, agent, round, sequence, timestamp_us, signed=key is not None)
    data = header.pack() + encode_body(message)
    if key is not None:
        data += make_tag(key, data)
    if len(data) > MAX_PAYLOAD:
        raise SummaryValueError(f"{message.KIND.topic_name} is {len(data)} bytes > {MAX_PAYLOAD}")
    return data


def decode(payload: bytes, *, key: bytes | None = None, where: str = "payload") -> Envelope:
    """Parse ``payload``; with ``key``, require and check its HMAC tag first.

    Without ``key`` a tag, if present, is skipped unchecked. Replays are not
    checked here (that needs the receiver's state: see ReplayGuard).
    """
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TruncatedPayloadError(f"{where}: expected bytes, got {type(payload).__name__}")
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise SizeLimitError(f"{where}: {len(payload)} bytes > {MAX_PAYLOAD}")
    head_reader = PayloadReader(payload, where)
    header = read_header(head_reader)
    where = f"{where} ({header.agent}/{header.kind.topic_name} #{header.sequence})"
    body_end = len(payload)
    if header.signed:
        body_end -= TAG_LEN
        if body_end < head_reader.offset:
            raise TruncatedPayloadError(f"{where}: too short for its {TAG_LEN}-byte tag")
        if key is not None and not tag_matches(key, payload[:body_end], payload[body_end:]):
            raise ForgedMessageError(f"{where}: HMAC tag does not match under the swarm key")
    elif key is not None:
        raise UnsignedMessageError(f"{where}: unsigned, and this receiver requires a tag")
    reader = PayloadReader(payload[:body_end], where)
    reader.offset = head_reader.offset
    message = decode_body(header.kind, reader)
    reader.expect_end()
    return Envelope(header, message, len(payload))
