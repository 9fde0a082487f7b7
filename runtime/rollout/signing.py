"""Sign a rollout (operator side) and check its signature (agent side).

The signature is Ed25519 over :meth:`otswarm.summaries.Rollout.signed_part`: a
domain string, then every body field before the signature (issue time, swarm,
targets, card, model, key id), so none of them can be changed or moved to
another swarm without the operator's private key.
"""

from __future__ import annotations

import hashlib

from otswarm.identity import SignatureError, public_bytes, sign, verify
from otswarm.rollout.errors import (
    BadSignatureError,
    NoOperatorKeyError,
    UnsignedRolloutError,
    UntrustedKeyError,
)
from otswarm.summaries import Rollout
from otswarm.summaries.rollout import KEY_ID_LEN


def key_id(key) -> bytes:
    """First 8 bytes of SHA-256 of the raw public key of ``key`` (names it, proves nothing)."""
    return hashlib.sha256(public_bytes(key)).digest()[:KEY_ID_LEN]


def signed_rollout(
    private_key,
    *,
    issued_us: int,
    swarm: str,
    targets: tuple[str, ...],
    card: bytes,
    model: bytes,
) -> Rollout:
    """The rollout of ``model`` and ``card`` to ``targets`` of ``swarm``, signed."""
    draft = Rollout(issued_us, swarm, targets, card, model, key_id(private_key))
    signature = sign(private_key, draft.signed_part())
    return Rollout(issued_us, swarm, targets, card, model, draft.key_id, signature)


def check_signature(rollout: Rollout, trusted_key) -> None:
    """Return when ``trusted_key`` signed ``rollout``; else the typed reason why not."""
    if trusted_key is None:
        raise NoOperatorKeyError("no operator key configured ([policy].operator_key): refused")
    if not rollout.signature:
        raise UnsignedRolloutError("the rollout is not signed")
    trusted_id = key_id(trusted_key)
    if rollout.key_id != trusted_id:
        raise UntrustedKeyError(
            f"signed by key {rollout.key_id.hex()}, this agent trusts only {trusted_id.hex()}"
        )
    try:
        verify(trusted_key, rollout.signed_part(), rollout.signature)
    except SignatureError as exc:
        raise BadSignatureError(
            f"the signature of key {trusted_id.hex()} does not verify: "
            "the rollout was changed after it was signed"
        ) from exc
