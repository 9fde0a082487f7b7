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

from otswarm.summaries.errors import (
    BadMagicError,
    InvalidFieldError,
    SummaryValueError,
    UnknownKindError,
    UnsupportedVersionError,
)
from otswarm.summaries.messages import Kind, check_id
from otswarm.summaries.reader import PayloadReader

MAGIC = b"OT"
VERSION = 2
FLAG_SIGNED = 0x01  # an HMAC tag (the swarm key)
FLAG_AGENT_SIGNED = 0x02  # an Ed25519 signature (the agent's own key)
KNOWN_FLAGS = FLAG_SIGNED | FLAG_AGENT_SIGNED
FIXED = struct.Struct("<2sBBBBIIIQ")


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
        for name, bits in (("session", 32), ("round", 32), ("sequence", 32), ("timestamp_us", 64)):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < (1 << bits):
                raise SummaryValueError(f"header {name} must be a u{bits}, got {value!r}")

    def pack(self) -> bytes:
        agent = self.agent.encode("ascii")
        flags = (FLAG_SIGNED if self.signed else 0) | (
            FLAG_AGENT_SIGNED if self.agent_signed else 0
        )
        fixed = FIXED.pack(
            MAGIC, VERSION, self.kind, flags, len(agent), self.session, self.round,
            self.sequence, self.timestamp_us,
        )  # fmt: skip
        return fixed + agent


def read_header(reader: PayloadReader) -> Header:
    """Parse and validate the header at the reader's position."""
    magic, version, kind, flags, agent_len, session, round_, sequence, timestamp_us = reader.unpack(
        FIXED, "header"
    )
    where = reader.where
    if magic != MAGIC:
        raise BadMagicError(f"{where}: magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise UnsupportedVersionError(f"{where}: wire-format version {version}, expected {VERSION}")
    if kind not in Kind._value2member_map_:
        raise UnknownKindError(f"{where}: unknown message kind {kind}")
    if flags & ~KNOWN_FLAGS:
        raise InvalidFieldError(f"{where}: unknown header flags 0x{flags:02x}")
    raw_agent = reader.array("u1", agent_len, "header agent").tobytes()
    try:
        return Header(
            Kind(kind),
            raw_agent.decode("ascii"),
            round_,
            sequence,
            timestamp_us,
            session,
            bool(flags & FLAG_SIGNED),
            bool(flags & FLAG_AGENT_SIGNED),
        )
    except (UnicodeDecodeError, SummaryValueError) as exc:
        raise InvalidFieldError(f"{where}: header agent {raw_agent!r} is not a valid id") from exc
