"""Encode and decode whole summaries: header, body, optional HMAC tag and signature.

``payload = header | agent | body | [tag] | [signature]``: the tag (16 bytes) is
``HMAC-SHA256(swarm key, header | agent | body)`` truncated, the signature (64
bytes) is the sender's Ed25519 signature over everything before it.

``decode`` validates everything (length, magic, version, kind, flags, ids, sizes,
finite values, weights, tag and signature when asked) and raises a
SummaryDecodeError subclass on any fault; it never raises anything else on bytes
input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from otswarm.identity import SIGNATURE_LEN, Roster, SignatureError, UnknownAgentError, sign
from otswarm.summaries.auth import TAG_LEN, make_tag, tag_matches
from otswarm.summaries.bodies import ENCODERS, decode_body
from otswarm.summaries.errors import (
    ForgedMessageError,
    SizeLimitError,
    SummaryValueError,
    TruncatedPayloadError,
    UnknownSignerError,
    UnsignedMessageError,
)
from otswarm.summaries.header import (
    FLAG_AGENT_SIGNED,
    FLAG_SIGNED,
    Header,
    pack_header,
    read_header,
)
from otswarm.summaries.kinds import Message
from otswarm.summaries.messages import unchecked
from otswarm.summaries.reader import PayloadReader

if TYPE_CHECKING:
    from otswarm.identity.keys import Ed25519PrivateKey

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
    session: int = 0,
    key: bytes | None = None,
    signer: Ed25519PrivateKey | None = None,
) -> bytes:
    """The wire bytes of ``message`` sent by ``agent``: tagged when ``key`` (the swarm's
    HMAC key) is given, signed when ``signer`` (the agent's own key) is."""
    try:
        kind, encode_body = ENCODERS[type(message)]
    except KeyError:
        raise SummaryValueError(
            f"cannot encode {type(message).__name__}: not a message kind"
        ) from None
    flags = FLAG_SIGNED * (key is not None) | FLAG_AGENT_SIGNED * (signer is not None)
    header = pack_header(kind, agent, round, sequence, timestamp_us, session, flags)
    data = header + encode_body(message)
    if key is not None:
        data += make_tag(key, data)
    if signer is not None:
        data += sign(signer, data)
    if len(data) > MAX_PAYLOAD:
        raise SummaryValueError(f"{message.KIND.topic_name} is {len(data)} bytes > {MAX_PAYLOAD}")
    return data


def decode(
    payload: bytes,
    *,
    key: bytes | None = None,
    roster: Roster | None = None,
    where: str = "payload",
) -> Envelope:
    """Parse ``payload``; with ``key``, require and check its HMAC tag; with ``roster``,
    require its signature and check it against the sender's key in the roster.

    Both checks run before the body is parsed. Without ``key`` (``roster``) a tag
    (signature), if present, is skipped unchecked. Replays are not checked here
    (that needs the receiver's state: see ReplayGuard).
    """
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TruncatedPayloadError(f"{where}: expected bytes, got {type(payload).__name__}")
    payload = bytes(payload)
    size = len(payload)
    if size > MAX_PAYLOAD:
        raise SizeLimitError(f"{where}: {size} bytes > {MAX_PAYLOAD}")
    reader = PayloadReader(payload, where)
    header = read_header(reader)
    reader.header = header  # errors from here on name the sender, kind and sequence
    body_end = size - TAG_LEN * header.signed - SIGNATURE_LEN * header.agent_signed
    if body_end < reader.offset:
        raise TruncatedPayloadError(f"{reader.where}: too short for its tag or signature")
    if roster is not None:
        _check_signature(payload, header, roster, reader.where)
    if key is not None:
        if not header.signed:
            raise UnsignedMessageError(
                f"{reader.where}: no HMAC tag, and this receiver requires one"
            )
        tag_end = body_end + TAG_LEN
        if not tag_matches(key, payload[:body_end], payload[body_end:tag_end]):
            raise ForgedMessageError(f"{reader.where}: HMAC tag does not match under the swarm key")
    reader.end = body_end
    message = decode_body(header.kind, reader)
    reader.expect_end()
    return unchecked(Envelope, {"header": header, "message": message, "size": size})


def _check_signature(payload: bytes, header: Header, roster: Roster, where: str) -> None:
    if not header.agent_signed:
        raise UnsignedMessageError(f"{where}: no signature, and this receiver requires one")
    signed_end = len(payload) - SIGNATURE_LEN
    try:
        roster.verify(header.agent, payload[:signed_end], payload[signed_end:])
    except UnknownAgentError as exc:
        raise UnknownSignerError(f"{where}: {exc}") from exc
    except SignatureError as exc:
        raise ForgedMessageError(f"{where}: not signed by {header.agent}'s key") from exc
