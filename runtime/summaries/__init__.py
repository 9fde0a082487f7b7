"""Distribution summaries on the wire: message kinds, codec, HMAC, signatures, sessions
and replay window.

The byte layout is in docs/wire-format.md (version 2).
"""

from otswarm.summaries.auth import TAG_LEN, ReplayGuard
from otswarm.summaries.codec import MAX_PAYLOAD, Envelope, decode, encode
from otswarm.summaries.errors import (
    AuthenticationError,
    BadMagicError,
    ForgedMessageError,
    FutureMessageError,
    InvalidFieldError,
    ReplayError,
    SizeLimitError,
    SummaryDecodeError,
    SummaryValueError,
    TruncatedPayloadError,
    UnknownKindError,
    UnknownSignerError,
    UnsignedMessageError,
    UnsupportedVersionError,
)
from otswarm.summaries.header import VERSION, Header
from otswarm.summaries.kinds import MESSAGE_TYPES, Message
from otswarm.summaries.messages import (
    AllocationPlan,
    EnergyOffer,
    Heartbeat,
    Histogram,
    Kind,
    PointCloud,
    State,
    Transfer,
    TransferReport,
)
from otswarm.summaries.rollout import Outcome, Rollout, RolloutStatus
from otswarm.summaries.telemetry import Telemetry

__all__ = [
    "MAX_PAYLOAD",
    "MESSAGE_TYPES",
    "TAG_LEN",
    "VERSION",
    "AllocationPlan",
    "AuthenticationError",
    "BadMagicError",
    "EnergyOffer",
    "Envelope",
    "ForgedMessageError",
    "FutureMessageError",
    "Header",
    "Heartbeat",
    "Histogram",
    "InvalidFieldError",
    "Kind",
    "Message",
    "Outcome",
    "PointCloud",
    "ReplayError",
    "ReplayGuard",
    "Rollout",
    "RolloutStatus",
    "SizeLimitError",
    "State",
    "SummaryDecodeError",
    "SummaryValueError",
    "Telemetry",
    "Transfer",
    "TransferReport",
    "TruncatedPayloadError",
    "UnknownKindError",
    "UnknownSignerError",
    "UnsignedMessageError",
    "UnsupportedVersionError",
    "decode",
    "encode",
]
