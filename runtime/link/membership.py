"""Who is in the swarm: the last state each agent announced and when it was last heard.

An agent is *alive* when its last ``state`` said online (or no state was seen but
it is sending) and it was heard within ``misses`` heartbeat periods:
``now - last_seen <= misses * period_s``, with the period the agent announced
(seconds, receiver clock).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MISSES = 3


@dataclass(frozen=True)
class Member:
    """One agent as a receiver sees it (``last_seen`` in the receiver's clock, seconds)."""

    agent: str
    online: bool
    last_seen: float
    period_s: float
    alive: bool


class Membership:
    """The membership table of one receiver; not thread-safe (the link locks it)."""

    def __init__(self, default_period_s: float, misses: int = DEFAULT_MISSES) -> None:
        self.default_period_s = default_period_s
        self.misses = misses
        # agent -> [online, last_seen, period_s]
        self._table: dict[str, list] = {}

    def heard(self, agent: str, now: float, period_s: float | None = None) -> None:
        """Any message from ``agent``; heartbeats and states carry its period."""
        entry = self._table.setdefault(agent, [True, now, self.default_period_s])
        entry[1] = now
        if period_s is not None:
            entry[2] = period_s

    def announced(self, agent: str, online: bool, period_s: float, now: float) -> None:
        """A ``state`` message: online after connecting, offline on leaving or dying."""
        self._table[agent] = [online, now, period_s]

    def snapshot(self, now: float) -> dict[str, Member]:
        return {
            agent: Member(
                agent, online, seen, period, online and now - seen <= self.misses * period
            )
            for agent, (online, seen, period) in self._table.items()
        }
