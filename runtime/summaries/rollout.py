"""The two message kinds of an over-the-air policy rollout (wire-format version 1).

``ROLLOUT`` (kind 16) is published by the operator, retained, on
``otswarm/v1/<swarm>/operator/rollout``: a model, its card, who should adopt it
and the operator's Ed25519 signature. ``ROLLOUT_STATUS`` (kind 17) is published by
each agent, retained, on its own ``rollout_status`` topic: what it did with the
last rollout it saw and which policy it runs now.

Body layouts (little-endian)::

    ROLLOUT         issued_us u64 | swarm (u8 len + id) | n_targets u16
                    | targets (u8 len + id)[n_targets] | card_len u32 | card bytes
                    | model_len u32 | model bytes | key_id 8 bytes
                    | sig_len u8 (0 or 64) | signature bytes
    ROLLOUT_STATUS  outcome u8 | issued_us u64 | rollout sha256 (32) | policy sha256 (32)
                    | code (u8 len + ASCII) | detail_len u16 | detail UTF-8

The signature covers ``SIGNED_DOMAIN`` followed by the body up to and including
``key_id`` (:meth:`Rollout.signed_part`); ``key_id`` is the first 8 bytes of the
SHA-256 of the signer's raw 32-byte public key, so a receiver can tell "signed by
another key" from "tampered with". Checking the signature is the receiver's job
(:mod:`otswarm.rollout`); this module only carries the bytes.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from dataclasses import dataclass
from typing import ClassVar

from otswarm.summaries.errors import InvalidFieldError, SizeLimitError, SummaryValueError
from otswarm.summaries.messages import Kind, _uint, check_id
from otswarm.summaries.reader import PayloadReader, pack_text

SIGNED_DOMAIN = b"otswarm-rollout/1\n"
SIGNATURE_LEN = 64  # Ed25519
KEY_ID_LEN = 8
HASH_LEN = 32  # SHA-256
MAX_TARGETS = 1024
MAX_BLOB = 65536  # card or model bytes; the whole payload is bounded by the codec too
MAX_DETAIL = 1024  # bytes of UTF-8 in a status detail
NO_KEY = bytes(KEY_ID_LEN)

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
_U8 = struct.Struct("<B")


def sha256(data: bytes) -> bytes:
    """The 32-byte SHA-256 digest that names a model on the wire."""
    return hashlib.sha256(data).digest()


def _ids(values, what: str) -> tuple[str, ...]:
    ids = tuple(values)
    if len(ids) > MAX_TARGETS:
        raise SummaryValueError(f"{what}: {len(ids)} ids, limit {MAX_TARGETS}")
    for value in ids:
        check_id(value, what)
    return ids


def _blob(value, what: str, lower: int = 0) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise SummaryValueError(f"{what} must be bytes, got {type(value).__name__}")
    value = bytes(value)
    if not lower <= len(value) <= MAX_BLOB:
        raise SummaryValueError(f"{what} is {len(value)} bytes, allowed {lower}..{MAX_BLOB}")
    return value


@dataclass(frozen=True)
class Rollout:
    """A policy the operator asks ``targets`` (everyone when empty) of ``swarm`` to run.

    ``issued_us``: when the operator signed it (µs since the epoch); agents refuse a
    rollout issued before the one they run, so replaying an old signed model cannot
    downgrade a board. ``card`` and ``model`` are the exact bytes of
    ``NAME.card.json`` and ``NAME.tflite``. ``signature`` is empty when unsigned.
    """

    KIND: ClassVar[Kind] = Kind.ROLLOUT
    issued_us: int
    swarm: str
    targets: tuple[str, ...]
    card: bytes
    model: bytes
    key_id: bytes = NO_KEY
    signature: bytes = b""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "issued_us", _uint(self.issued_us, "rollout issued_us", 64))
        check_id(self.swarm, "rollout swarm")
        set_(self, "targets", _ids(self.targets, "rollout target"))
        set_(self, "card", _blob(self.card, "rollout card", 1))
        set_(self, "model", _blob(self.model, "rollout model", 1))
        set_(self, "key_id", _blob(self.key_id, "rollout key_id"))
        if len(self.key_id) != KEY_ID_LEN:
            raise SummaryValueError(f"rollout key_id must be {KEY_ID_LEN} bytes")
        set_(self, "signature", _blob(self.signature, "rollout signature"))
        if len(self.signature) not in (0, SIGNATURE_LEN):
            raise SummaryValueError(f"rollout signature must be 0 or {SIGNATURE_LEN} bytes")

    @property
    def model_sha256(self) -> bytes:
        return sha256(self.model)

    def for_agent(self, agent: str) -> bool:
        """Whether ``agent`` is asked to adopt this rollout."""
        return not self.targets or agent in self.targets

    def signed_part(self) -> bytes:
        """The bytes the operator's signature covers (domain, then the body up to key_id)."""
        return SIGNED_DOMAIN + _encode_unsigned(self)


class Outcome(enum.IntEnum):
    """What an agent did with a rollout."""

    ADOPTED = 1  # runs it now
    REFUSED = 2  # checked it and kept its policy (``code`` says why)
    ROLLED_BACK = 3  # ran it, it failed, back on the previous policy


@dataclass(frozen=True)
class RolloutStatus:
    """One agent's answer to the rollout issued at ``issued_us`` with model ``rollout``.

    ``policy`` is the SHA-256 of the model it runs after deciding; ``code`` a short
    token (``adopted``, ``unsigned``, ``untrusted_key``, ``too_large``...), ``detail``
    the sentence of its log line.
    """

    KIND: ClassVar[Kind] = Kind.ROLLOUT_STATUS
    outcome: Outcome
    issued_us: int
    rollout: bytes
    policy: bytes
    code: str
    detail: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        try:
            set_(self, "outcome", Outcome(self.outcome))
        except ValueError as exc:
            raise SummaryValueError(f"rollout status outcome {self.outcome!r} unknown") from exc
        set_(self, "issued_us", _uint(self.issued_us, "rollout status issued_us", 64))
        for name in ("rollout", "policy"):
            value = _blob(getattr(self, name), f"rollout status {name}")
            if len(value) != HASH_LEN:
                raise SummaryValueError(f"rollout status {name} must be a {HASH_LEN}-byte hash")
            set_(self, name, value)
        check_id(self.code, "rollout status code")
        detail = str(self.detail).encode("utf-8")
        if len(detail) > MAX_DETAIL:  # a long error message is cut, at a character boundary
            cut = detail[: MAX_DETAIL - 3].decode("utf-8", "ignore")
            detail = (cut + "…").encode("utf-8")
        set_(self, "detail", detail.decode("utf-8"))


def _encode_unsigned(m: Rollout) -> bytes:
    return b"".join(
        [
            _U64.pack(m.issued_us),
            pack_text(m.swarm),
            _U16.pack(len(m.targets)),
            *(pack_text(agent) for agent in m.targets),
            _U32.pack(len(m.card)),
            m.card,
            _U32.pack(len(m.model)),
            m.model,
            m.key_id,
        ]
    )


def _encode_rollout(m: Rollout) -> bytes:
    return _encode_unsigned(m) + _U8.pack(len(m.signature)) + m.signature


def _blob_field(r: PayloadReader, what: str) -> bytes:
    (length,) = r.unpack(_U32, f"{what} length")
    if length > MAX_BLOB:
        raise SizeLimitError(f"{r.where}: {what} is {length} bytes, limit {MAX_BLOB}")
    return r.take(length, what)


def _decode_rollout(r: PayloadReader) -> Rollout:
    (issued_us,) = r.unpack(_U64, "rollout issued_us")
    swarm = r.text("rollout swarm")
    (n_targets,) = r.unpack(_U16, "rollout n_targets")
    if n_targets > MAX_TARGETS:
        raise SizeLimitError(f"{r.where}: rollout n_targets is {n_targets}, limit {MAX_TARGETS}")
    targets = tuple(r.text(f"rollout target {i}") for i in range(n_targets))
    card = _blob_field(r, "rollout card")
    model = _blob_field(r, "rollout model")
    key_id = r.take(KEY_ID_LEN, "rollout key_id")
    (sig_len,) = r.unpack(_U8, "rollout sig_len")
    if sig_len not in (0, SIGNATURE_LEN):
        raise InvalidFieldError(f"{r.where}: rollout sig_len {sig_len}, expected 0 or 64")
    signature = r.take(sig_len, "rollout signature")
    return Rollout(issued_us, swarm, targets, card, model, key_id, signature)


def _encode_status(m: RolloutStatus) -> bytes:
    detail = m.detail.encode("utf-8")
    return b"".join(
        [
            _U8.pack(m.outcome),
            _U64.pack(m.issued_us),
            m.rollout,
            m.policy,
            pack_text(m.code),
            _U16.pack(len(detail)),
            detail,
        ]
    )


def _decode_status(r: PayloadReader) -> RolloutStatus:
    (outcome,) = r.unpack(_U8, "rollout status outcome")
    (issued_us,) = r.unpack(_U64, "rollout status issued_us")
    rollout = r.take(HASH_LEN, "rollout status rollout")
    policy = r.take(HASH_LEN, "rollout status policy")
    code = r.text("rollout status code")
    (length,) = r.unpack(_U16, "rollout status detail length")
    if length > MAX_DETAIL:
        raise SizeLimitError(f"{r.where}: rollout status detail is {length} bytes > {MAX_DETAIL}")
    raw = r.take(length, "rollout status detail")
    try:
        detail = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidFieldError(f"{r.where}: rollout status detail is not UTF-8") from exc
    return RolloutStatus(outcome, issued_us, rollout, policy, code, detail)


#: body codecs of the two kinds, joined into the codec table of otswarm.summaries.bodies
ROLLOUT_CODECS = {
    Kind.ROLLOUT: (_encode_rollout, _decode_rollout),
    Kind.ROLLOUT_STATUS: (_encode_status, _decode_status),
}
