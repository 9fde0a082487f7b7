"""Who is in the swarm, with bounded state: the last state each agent announced, when
it was last heard, and how fast it may speak.

An agent is *alive* when its last ``state`` said online (or no state was seen but
it is sending, or it sent something in a newer session than its last ``offline``)
and it was heard within ``misses`` heartbeat periods:
``now - last_seen <= misses * period_s``, with the period the agent announced,
capped at ``max_period_s`` (seconds, receiver clock). So no announcement keeps a
silent agent alive for more than ``misses * max_period_s``.

Bounds (a flood of new ids costs bounded memory and time):

* at most ``max_members`` senders are tracked; a new sender beyond that is
  refused (MembershipFullError) until silent ones expire;
* an entry silent for ``misses * max_period_s`` is removed (:meth:`expire`);
* each sender has a token bucket of ``burst`` messages refilled at
  ``rate_per_s``: a message finding it empty is refused (RateLimitError), so
  one id cannot take the receiver's time.
"""

from __future__ import annotations

from dataclasses import dataclass

from otswarm.link.errors import MembershipFullError, RateLimitError
from otswarm.link.limits import LinkLimits

DEFAULT_MISSES = 3


@dataclass(frozen=True)
class Member:
    """One agent as a receiver sees it (``last_seen`` in the receiver's clock, seconds)."""

    agent: str
    online: bool
    last_seen: float
    period_s: float
    alive: bool


class _Entry:
    __slots__ = ("heard", "last_seen", "online", "period_s", "refilled", "session", "tokens")

    def __init__(self, now: float, period_s: float, burst: int) -> None:
        self.online, self.heard, self.session = True, False, -1
        self.last_seen, self.period_s = now, period_s
        self.tokens, self.refilled = float(burst), now


class Membership:
    """The membership table of one receiver; not thread-safe (the link locks it)."""

    def __init__(
        self,
        default_period_s: float,
        limits: LinkLimits | None = None,
        misses: int = DEFAULT_MISSES,
    ) -> None:
        self.limits = limits or LinkLimits()
        self.default_period_s = min(default_period_s, self.limits.max_heartbeat_period_s)
        self.misses = misses
        self._table: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._table)

    @property
    def horizon_s(self) -> float:
        """How long a silent entry is kept: ``misses * max_period_s``."""
        return self.misses * self.limits.max_heartbeat_period_s

    def full_for(self, agent: str) -> bool:
        """True when a message of ``agent`` would be refused for want of room: the table
        is full and ``agent`` is not in it (cheap: checked before decoding)."""
        return len(self._table) >= self.limits.max_members and agent not in self._table

    def admit(self, agent: str, now: float) -> None:
        """Take one message of ``agent`` (before it is processed): make room for a new
        sender and spend one of its tokens, or raise MembershipFullError/RateLimitError."""
        entry = self._table.get(agent)
        limits = self.limits
        if entry is None:
            if len(self._table) >= limits.max_members:
                raise MembershipFullError(
                    f"{agent}: {len(self._table)} senders tracked (max_members): new senders "
                    f"are refused until silent ones expire ({self.horizon_s:g} s)"
                )
            entry = self._table[agent] = _Entry(now, self.default_period_s, limits.burst)
        elapsed = max(0.0, now - entry.refilled)
        entry.tokens = min(float(limits.burst), entry.tokens + elapsed * limits.rate_per_s)
        entry.refilled = now
        if entry.tokens < 1.0:
            raise RateLimitError(
                f"{agent}: more than {limits.rate_per_s:g} messages/s (burst {limits.burst})"
            )
        entry.tokens -= 1.0

    def heard(self, agent: str, now: float, session: int, period_s: float | None = None) -> None:
        """An accepted message of ``agent``; heartbeats and states carry its period.
        A message of a newer session than the entry's means the agent is back online."""
        entry = self._entry(agent, now)
        if session > entry.session:
            entry.online, entry.session = True, session
        entry.heard, entry.last_seen = True, now
        if period_s is not None:
            entry.period_s = min(period_s, self.limits.max_heartbeat_period_s)

    def announced(
        self, agent: str, online: bool, period_s: float, session: int, now: float
    ) -> bool:
        """A ``state`` message: online after connecting, offline on leaving or dying.
        One of an older session than the last heard is ignored (False)."""
        entry = self._entry(agent, now)
        if session < entry.session:
            return False
        entry.online, entry.session, entry.heard, entry.last_seen = online, session, True, now
        entry.period_s = min(period_s, self.limits.max_heartbeat_period_s)
        return True

    def _entry(self, agent: str, now: float) -> _Entry:
        entry = self._table.get(agent)
        if entry is None:  # not admitted first (a caller that keeps no limits)
            entry = self._table[agent] = _Entry(now, self.default_period_s, self.limits.burst)
        return entry

    def expire(self, now: float) -> list[str]:
        """Remove every entry silent for longer than :attr:`horizon_s`; their ids."""
        horizon = self.horizon_s
        gone = [a for a, e in self._table.items() if now - e.last_seen > horizon]
        for agent in gone:
            del self._table[agent]
        return gone

    def _alive(self, entry: _Entry, now: float) -> bool:
        return entry.online and now - entry.last_seen <= self.misses * entry.period_s

    def snapshot(self, now: float) -> dict[str, Member]:
        return {
            agent: Member(agent, e.online, e.last_seen, e.period_s, self._alive(e, now))
            for agent, e in self._table.items()
            if e.heard
        }

    def is_alive(self, agent: str, now: float) -> bool:
        """Whether :meth:`alive` would list ``agent``."""
        entry = self._table.get(agent)
        return entry is not None and entry.heard and self._alive(entry, now)

    def alive(self, now: float) -> list[str]:
        """The ids :meth:`snapshot` would say are alive, without building it."""
        return [agent for agent, e in self._table.items() if e.heard and self._alive(e, now)]
