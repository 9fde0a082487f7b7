"""How much a link believes and keeps: clock skew, message age, heartbeat periods,
tracked senders and their rate (see membership.py and summaries/auth.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from otswarm.errors import ConfigError


@dataclass(frozen=True)
class LinkLimits:
    """Bounds a receiver applies to what it hears.

    Args:
        max_skew_s: refuse messages stamped more than this ahead of our clock (s;
            None: off).
        max_age_s: refuse messages older than this by our clock (s; None: off).
        max_heartbeat_period_s: an announced heartbeat period is capped at this (s),
            so a silent member expires within 3 of them.
        max_members: senders tracked at most; new ones beyond it are refused.
        rate_per_s, burst: each sender's token bucket (messages per second, size).
    """

    max_skew_s: float | None = 30.0
    max_age_s: float | None = None
    max_heartbeat_period_s: float = 60.0
    max_members: int = 4096
    rate_per_s: float = 50.0
    burst: int = 500

    def __post_init__(self) -> None:
        for name in ("max_skew_s", "max_age_s"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"link.{name} {value!r}: must be > 0 (or unset: off)")
        checks = (
            (math.isfinite(self.max_heartbeat_period_s) and self.max_heartbeat_period_s > 0,
             "max_heartbeat_period_s", "> 0"),
            (self.max_members >= 1, "max_members", ">= 1"),
            (math.isfinite(self.rate_per_s) and self.rate_per_s > 0, "rate_per_s", "> 0"),
            (self.burst >= 1, "burst", ">= 1"),
        )  # fmt: skip
        for ok, name, rule in checks:
            if not ok:
                raise ConfigError(f"link.{name} {getattr(self, name)!r}: must be {rule}")
