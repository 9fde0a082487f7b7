"""The fixed header every summary starts with (wire-format version 2).

Layout (little-endian), 22 bytes then the sender id::

    0  magic        2 bytes  b"OT"
    2  version      u8       2
    3  kind         u8       Kind
    4  flags        u8       bit 0: an HMAC tag ends the payload; other bits 0
    5  agent_len    u8       1..32
    6  round        u32      coordination round of the sender
   10  sequence     u32      per-sender counter, +1 per message, from 1 at link start
   14  timestamp_us u64      sender wall clock, microseconds since the Unix epoch,
                             strictly increasing per sender
   22  agent        agent_len bytes of ASCII [A-Za-z0-9_.-]
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
VERSION = 2  # 2: kind 8, the transfer report (docs/wire-format.md)
FLAG_SIGNED = 0x01
KNOWN_FLAGS = FLAG_SIGNED
FIXED = struct.Struct("<2sBBBBIIQ")


@dataclass(frozen=True)
class Header:
    """Who sent a summary, of which kind, in which round, with which sequence and time."""

    kind: Kind
    agent: str
    round: int
    sequence: int
    timestamp_us: int
    signed: bool = False

    def __post_init__(self) -> None:
        check_id(self.agent, "header agent")
        for name, bits in (("round", 32), ("sequence", 32), ("timestamp_us", 64)):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < (1 << bits):
                raise SummaryValueError(f"header {name} must be a u{bits}, got {value!r}")

    def pack(self) -> bytes:
        agent = self.agent.encode("ascii")
        flags = FLAG_SIGNED if self.signed else 0
        fixed = FIXED.pack(
            MAGIC, VERSION, self.kind, flags, len(agent), self.round, self.sequence,
            self.timestamp_us,
        )  # fmt: skip
        return fixed + agent


def read_header(reader: PayloadReader) -> Header:
    """Parse and validate the header at the reader's position."""
    magic, version, kind, flags, agent_len, round_, sequence, timestamp_us = reader.unpack(
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
            bool(flags & FLAG_SIGNED),
        )
    except (UnicodeDecodeError, SummaryValueError) as exc:
        raise InvalidFieldError(f"{where}: header agent {raw_agent!r} is not a valid id") from exc
