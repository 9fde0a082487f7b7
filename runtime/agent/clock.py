"""Rounds on the wall clock, so agents agree on round numbers without talking.

Round ``k`` covers the Unix times ``[k * period, (k + 1) * period)`` seconds.
Boards keep their clocks within a few milliseconds with NTP (or chrony), so two
agents that tick in the same period compute the same ``k``; allocation uses it
to pick one planner per round. The agent ticks once per round, a fixed offset
into the round so the summaries of round ``k`` are in before it decides.
"""

from __future__ import annotations

import math
import threading
import time


class RoundClock:
    """Tick scheduling on round boundaries (``period_s`` seconds long)."""

    def __init__(self, period_s: float, offset: float = 0.5) -> None:
        self.period_s = period_s
        self.offset = offset  # fraction of the period at which the agent ticks

    def round_at(self, t: float) -> int:
        """The round that contains Unix time ``t``."""
        return math.floor(t / self.period_s)

    def next_tick_at(self, now: float) -> float:
        """The next tick time after ``now``: ``(k + offset) * period`` for the smallest such k."""
        k = math.floor(now / self.period_s - self.offset) + 1
        return (k + self.offset) * self.period_s

    def wait_next_tick(self, stop: threading.Event) -> bool:
        """Sleep until the next tick; False when ``stop`` was set meanwhile."""
        delay = self.next_tick_at(time.time()) - time.time()
        return not stop.wait(max(delay, 0.0))
