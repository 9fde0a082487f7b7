"""Helpers of the rollout tests (not a test module): operator keys and test models."""

from __future__ import annotations

import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from otswarm.policy import card_path_for
from otswarm.rollout.signing import signed_rollout
from otswarm.summaries import Rollout

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "rollout"
MODELS = Path(__file__).resolve().parents[1] / "runtime" / "policy" / "models"
GATED = FIXTURES / "gated_int8.tflite"  # a distribution above 50 % charge, zeros below
UNIFORM = FIXTURES / "uniform_int8.tflite"  # a valid harvest policy, not a shipped one
HARVEST = MODELS / "harvest_int8.tflite"
SPREAD = MODELS / "spread_int8.tflite"  # another observation layout


def write_keys(folder: Path, name: str = "operator") -> tuple[Ed25519PrivateKey, Path, Path]:
    """A fresh Ed25519 key pair as PEM files ``name.key`` and ``name.pub`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private = folder / f"{name}.key"
    public = folder / f"{name}.pub"
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public.write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    return key, private, public


def rollout_of(
    key: Ed25519PrivateKey,
    model: Path,
    swarm: str,
    targets: tuple[str, ...] = (),
    issued_us: int | None = None,
    model_bytes: bytes | None = None,
) -> Rollout:
    """``model`` (or ``model_bytes`` with ``model``'s card) signed by ``key`` for ``swarm``."""
    return signed_rollout(
        key,
        issued_us=issued_us if issued_us is not None else time.time_ns() // 1000,
        swarm=swarm,
        targets=targets,
        card=card_path_for(model).read_bytes(),
        model=model.read_bytes() if model_bytes is None else model_bytes,
    )
