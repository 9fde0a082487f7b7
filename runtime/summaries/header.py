"""The fixed header every summary starts with (wire-format version 2).

Layout (little-endian), 26 bytes then the sender id::

    0  magic        2 bytes  b"OT"
    2  version      u8       2
    3  kind         u8       Kind
    4  flags        u8       bit 0: a 16-byte HMAC tag follows the body;
                             bit 1: a 64-byte Ed25519 signature ends the payload;
                             other bits 0
    5  agent_len    u8       1..32
    6  session      u32      the sender's session: its link's start time (whole
                             seconds since the Unix epoch), larger for every start
    10 round        u32      coordination round of the sender
    14 sequence     u32      per-sender counter, +1 per message, from 1 at session start
    18 timestamp_us u64      sender wall clock, microseconds since the Unix epoch
    26 agent        agent_len bytes of ASCII [A-Za-z0-9_.-]

Version 1 had no session field (22 bytes); a version-2 receiver refuses it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from otswarm.ids import is_valid_id
from otswarm.summaries.errors import (
    BadMagicError,
    InvalidFieldError,
    SummaryValueError,
    UnknownKindError,
    UnsupportedVersionError,
)
from otswarm.summaries.messages import Kind, check_id, unchecked
from otswarm.summaries.reader import PayloadReader

MAGIC = b"OT"
VERSION = 2
FLAG_SIGNED = 0x01  # an HMAC tag (the swarm key)
FLAG_AGENT_SIGNED = 0x02  # an Ed25519 signature (the agent's own key)
KNOWN_FLAGS = FLAG_SIGNED | FLAG_AGENT_SIGNED
FIXED = struct.Struct("<2sBBBBIIIQ")
_KINDS = Kind._value2member_map_  # header byte -> Kind
_COUNTERS = (("session", 32), ("round", 32), ("sequence", 32), ("timestamp_us", 64))
# Agent ids already checked, both ways: a process sends under one id and hears a few
# dozen, so each is checked (regex, ASCII) once, not per message. Bounded: when full a
# table starts again, so a flood of new sender ids costs only their checks.
MAX_KNOWN_IDS = 1024
_SENT_IDS: dict[str, bytes] = {}  # id -> its ASCII bytes
_HEARD_IDS: dict[bytes, str] = {}  # the header's bytes -> the id


def _remember(table: dict, key, value):
    if len(table) >= MAX_KNOWN_IDS:
        table.clear()
    table[key] = value
    return value


def _sent_id(agent: str) -> bytes:
    """The ASCII bytes of ``agent`` once :func:`check_id` passes (SummaryValueError)."""
    raw = check_id(agent, "header agent").encode("ascii")
    if type(agent) is str:  # a str subclass may hash and compare as it likes: never kept
        _remember(_SENT_IDS, agent, raw)
    return raw


def _heard_id(raw: bytes, where: str) -> str:
    """The id in a header's agent bytes ``raw``, or InvalidFieldError."""
    try:
        agent = raw.decode("ascii")
    except UnicodeDecodeError:
        agent = None
    if not is_valid_id(agent):
        raise InvalidFieldError(f"{where}: header agent {raw!r} is not a valid id")
    return _remember(_HEARD_IDS, raw, agent)


def _check_counters(*values: int) -> None:
    """SummaryValueError unless session, round, sequence and timestamp_us (``values``, in
    that order) are each an int of its width."""
    for (name, bits), value in zip(_COUNTERS, values, strict=True):
        if not isinstance(value, int) or not 0 <= value < (1 << bits):
            raise SummaryValueError(f"header {name} must be a u{bits}, got {value!r}")


@dataclass(frozen=True)
class Header:
    """Who sent a summary, of which kind, in which session and round, with which
    sequence and time; ``signed``: an HMAC tag (swarm key) follows the body,
    ``agent_signed``: an Ed25519 signature (the agent's key) ends the payload."""

    kind: Kind
    agent: str
    round: int
    sequence: int
    timestamp_us: int
    session: int = 0
    signed: bool = False
    agent_signed: bool = False

    def __post_init__(self) -> None:
        check_id(self.agent, "header agent")
        _check_counters(self.session, self.round, self.sequence, self.timestamp_us)

    def pack(self) -> bytes:
        flags = (FLAG_SIGNED if self.signed else 0) | (
            FLAG_AGENT_SIGNED if self.agent_signed else 0
        )
        return pack_header(
            self.kind, self.agent, self.round, self.sequence, self.timestamp_us, self.session,
            flags,
        )  # fmt: skip


def pack_header(
    kind: int, agent: str, round_: int, sequence: int, timestamp_us: int, session: int,
    flags: int,
) -> bytes:  # fmt: skip
    """The header's bytes, with the checks of :class:`Header` (SummaryValueError), without
    building one: the encoder's path. ``kind`` is a :class:`Kind` or its byte."""
    raw_agent = _SENT_IDS.get(agent) if type(agent) is str else None
    if raw_agent is None:
        raw_agent = _sent_id(agent)
    if not type(session) is type(round_) is type(sequence) is type(timestamp_us) is int:
        # a bool passes, anything else that is not an int raises
        _check_counters(session, round_, sequence, timestamp_us)
    try:
        fixed = FIXED.pack(
            MAGIC, VERSION, kind, flags, len(raw_agent), session, round_, sequence, timestamp_us
        )
    except struct.error:  # a counter out of its width: say which one
        _check_counters(session, round_, sequence, timestamp_us)
        raise
    return fixed + raw_agent


def read_header(reader: PayloadReader) -> Header:
    """Parse and validate the header at the reader's position.

    The counters are unsigned fields of their width by the layout, so only the
    magic, version, kind, flags and agent id need checking.
    """
    magic, version, kind, flags, agent_len, session, round_, sequence, timestamp_us = reader.unpack(
        FIXED, "header"
    )
    where = reader.where
    if magic != MAGIC:
        raise BadMagicError(f"{where}: magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise UnsupportedVersionError(f"{where}: wire-format version {version}, expected {VERSION}")
    kind_ = _KINDS.get(kind)
    if kind_ is None:
        raise UnknownKindError(f"{where}: unknown message kind {kind}")
    if flags & ~KNOWN_FLAGS:
        raise InvalidFieldError(f"{where}: unknown header flags 0x{flags:02x}")
    raw_agent = reader.take(agent_len, "header agent")
    agent = _HEARD_IDS.get(raw_agent)
    if agent is None:
        agent = _heard_id(raw_agent, where)
    return unchecked(Header, {  # every field is checked: no __post_init__ again
        "kind": kind_, "agent": agent, "round": round_, "sequence": sequence,
        "timestamp_us": timestamp_us, "session": session,
        "signed": bool(flags & FLAG_SIGNED), "agent_signed": bool(flags & FLAG_AGENT_SIGNED),
    })  # fmt: skip
