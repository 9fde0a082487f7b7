"""One agent's identity on the link: its own key, the operator's public key and,
when the config gives one, the roster (else the link waits for the retained one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from otswarm.identity.errors import IdentityError
from otswarm.identity.keys import public_bytes
from otswarm.identity.roster import Roster

if TYPE_CHECKING:
    from otswarm.identity.keys import Ed25519PrivateKey, Ed25519PublicKey


@dataclass(frozen=True)
class AgentIdentity:
    """``key`` signs what ``agent`` sends; ``operator`` checks rosters; ``roster`` checks
    what others send (None: adopt the first valid roster published on the swarm's tree)."""

    agent: str
    key: Ed25519PrivateKey
    operator: Ed25519PublicKey
    roster: Roster | None = None

    def __post_init__(self) -> None:
        if self.roster is not None:
            self.check_listed(self.roster)

    def check_listed(self, roster: Roster) -> None:
        """IdentityError unless ``roster`` lists this agent with this agent's key."""
        if self.agent not in roster:
            raise IdentityError(f"{self.agent} is not in roster #{roster.serial}")
        if public_bytes(roster.public_key(self.agent)) != public_bytes(self.key):
            raise IdentityError(
                f"roster #{roster.serial} lists another public key for {self.agent} "
                "than the one of its key file"
            )
