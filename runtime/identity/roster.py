"""The swarm's roster: which agent ids exist and each one's public key, signed by the operator.

A roster document is UTF-8 JSON::

    {"format": "otswarm-roster/1", "swarm": "field-7", "serial": 3,
     "agents": {"a0": "<base64 of 32 bytes>", ...}, "signature": "<base64 of 64 bytes>"}

``signature`` is the operator's Ed25519 signature over the *canonical* encoding
of every other field: ``json.dumps(fields, sort_keys=True, separators=(",", ":"))``
in UTF-8. Agents hold only the operator's public key; any copy of the document
(a file in the config, the retained message on the swarm's tree) is checked
against it. ``serial`` grows with every roster the operator signs: a receiver
that holds roster ``n`` ignores any roster ``<= n``, so an old roster (with a
since-removed member in it) cannot be replayed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from otswarm.identity.errors import (
    IdentityError,
    KeyFileError,
    RosterError,
    SignatureError,
    UnknownAgentError,
)
from otswarm.identity.keys import parse_public_text, public_text, sign, verify
from otswarm.ids import is_valid_id

if TYPE_CHECKING:
    from otswarm.identity.keys import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "otswarm-roster/1"
MAX_ROSTER_BYTES = 1 << 20  # 1 MiB: some 15,000 members


@dataclass(frozen=True)
class Roster:
    """The verified roster of swarm ``swarm``: agent id -> Ed25519 public key."""

    swarm: str
    serial: int
    agents: Mapping[str, Ed25519PublicKey] = field(repr=False)

    def __post_init__(self) -> None:
        if not is_valid_id(self.swarm):
            raise RosterError(f"roster swarm {self.swarm!r} is not a valid swarm name")
        if isinstance(self.serial, bool) or not isinstance(self.serial, int) or self.serial < 0:
            raise RosterError(f"roster serial must be an integer >= 0, got {self.serial!r}")
        for agent in self.agents:
            if not is_valid_id(agent):
                raise RosterError(f"roster agent id {agent!r} is not a valid id")
        object.__setattr__(self, "agents", dict(self.agents))

    def __contains__(self, agent: str) -> bool:
        return agent in self.agents

    def public_key(self, agent: str) -> Ed25519PublicKey:
        try:
            return self.agents[agent]
        except KeyError:
            raise UnknownAgentError(f"{agent!r} is not in roster #{self.serial}") from None

    def verify(self, agent: str, data: bytes, signature: bytes) -> None:
        """Return when ``signature`` is ``agent``'s over ``data``; UnknownAgentError or
        SignatureError otherwise."""
        verify(self.public_key(agent), data, signature, f"message of {agent}")

    def fields(self) -> dict:
        """Every field of the document but the signature (what the operator signs)."""
        agents = {agent: public_text(key) for agent, key in sorted(self.agents.items())}
        return {"format": FORMAT, "swarm": self.swarm, "serial": self.serial, "agents": agents}


def _canonical(fields: dict) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_roster(roster: Roster, operator_key: Ed25519PrivateKey) -> bytes:
    """The signed document of ``roster`` (UTF-8 JSON, see the module docstring)."""
    fields = roster.fields()
    signature = sign(operator_key, _canonical(fields))
    document = {**fields, "signature": base64.b64encode(signature).decode("ascii")}
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8")


def parse_roster(
    data: bytes, operator: Ed25519PublicKey, *, swarm: str | None = None, where: str = "roster"
) -> Roster:
    """Check ``data`` against the operator's key (and ``swarm``) and return the roster.

    Raises RosterError when the document is malformed, names another swarm, or
    its signature is not the operator's.
    """
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError(f"{where}: {len(data)} bytes > {MAX_ROSTER_BYTES}")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RosterError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise RosterError(f"{where}: not an {FORMAT} document")
    expected = {"format", "swarm", "serial", "agents", "signature"}
    if set(document) != expected:
        raise RosterError(f"{where}: fields {sorted(document)}, expected {sorted(expected)}")
    fields = {k: v for k, v in document.items() if k != "signature"}
    try:
        signature = base64.b64decode(document["signature"], validate=True)
        verify(operator, _canonical(fields), signature, where)
    except (binascii.Error, TypeError, ValueError, SignatureError) as exc:
        raise RosterError(f"{where}: not signed by the operator's key ({exc})") from exc
    agents = document["agents"]
    if not isinstance(agents, dict):
        raise RosterError(f"{where}: agents must be an object of id -> public key")
    try:
        keys = {a: parse_public_text(k, f"{where}: key of {a!r}") for a, k in agents.items()}
    except (IdentityError, TypeError) as exc:
        raise RosterError(str(exc)) from exc
    roster = Roster(document["swarm"], document["serial"], keys)
    if swarm is not None and roster.swarm != swarm:
        raise RosterError(f"{where}: a roster of swarm {roster.swarm!r}, this is {swarm!r}")
    return roster


def read_roster(path: Path, operator: Ed25519PublicKey, *, swarm: str | None = None) -> Roster:
    """:func:`parse_roster` of the file at ``path``."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"roster {path}: cannot read: {exc.strerror}") from exc
    return parse_roster(data, operator, swarm=swarm, where=str(path))
