"""Who is who in a swarm: Ed25519 keys, signatures and the operator-signed roster.

* :mod:`otswarm.identity.keys`: make, store and load keys; sign and verify bytes.
* :mod:`otswarm.identity.roster`: the roster of agent public keys, signed by the
  operator, and its checks.
* :mod:`otswarm.identity.agent`: one agent's key, the operator's key and its roster.

Depends only on ``cryptography`` (imported when a key is first made, read or
used, so an agent without keys never loads it) and :mod:`otswarm.errors`; the wire
format, the link and the policy rollout build on it. docs/security.md says what it
protects.
"""

from otswarm.identity.agent import AgentIdentity
from otswarm.identity.errors import (
    IdentityError,
    KeyFileError,
    RosterError,
    SignatureError,
    UnknownAgentError,
)
from otswarm.identity.keys import (
    PUBLIC_KEY_LEN,
    SIGNATURE_LEN,
    generate_private_key,
    parse_public_text,
    public_bytes,
    public_text,
    read_private_key,
    read_public_key,
    sign,
    verify,
    write_key_pair,
)
from otswarm.identity.roster import Roster, parse_roster, read_roster, sign_roster


def __getattr__(name: str):
    """``Ed25519PrivateKey`` and ``Ed25519PublicKey``: see :mod:`otswarm.identity.keys`."""
    from otswarm.identity import keys

    return getattr(keys, name)


__all__ = [
    "PUBLIC_KEY_LEN",
    "SIGNATURE_LEN",
    "AgentIdentity",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "IdentityError",
    "KeyFileError",
    "Roster",
    "RosterError",
    "SignatureError",
    "UnknownAgentError",
    "generate_private_key",
    "parse_public_text",
    "parse_roster",
    "public_bytes",
    "public_text",
    "read_private_key",
    "read_public_key",
    "read_roster",
    "sign",
    "sign_roster",
    "verify",
    "write_key_pair",
]
