"""Authenticity and freshness of summaries: HMAC-SHA256 tags and a replay window.

Tag: ``HMAC-SHA256(key, header || body)`` truncated to its first 16 bytes
(128 bits, as RFC 4868 truncates HMAC-SHA-256 for IPsec), appended to the payload.
The key is per swarm; every agent of the swarm holds it.

Replay window (per sender *and* kind, since kinds travel on separate topics with
separate QoS and may be reordered against each other). A sender numbers its
messages 1, 2, ... from each start and stamps them with a strictly increasing
clock, so within one run sequence order is timestamp order, and a later run has
later timestamps. The receiver keeps the highest accepted sequence ``h``, the
timestamp ``t_h`` of that message, a 64-bit bitmap of the sequences
``h-63..h`` already accepted, and ``floor``: the last timestamp of the sender's
previous run. A message ``(s, t)`` is

* rejected when ``t <= floor`` (a message of an earlier run);
* accepted as new when ``t > t_h`` and ``s > h`` (the window slides);
* accepted as a new run when ``t > t_h`` and ``s <= h`` (the sender restarted:
  ``floor = t_h``, the window restarts at ``s``);
* accepted as late when ``t <= t_h``, ``h - 64 < s < h`` and ``s`` is not in the
  bitmap (reordering; e.g. a last will encoded just before the ``online`` state
  that overtook it);
* rejected otherwise (a replay, or too old for the window).

Optionally, a message older than ``max_age_s`` by the receiver's clock is
rejected too (off by default: boards without a real-time clock boot with a
wrong time until NTP has run).
"""

from __future__ import annotations

import hashlib
import hmac

from otswarm.summaries.errors import ReplayError
from otswarm.summaries.header import Header

TAG_LEN = 16
WINDOW = 64
_MASK = (1 << WINDOW) - 1


def make_tag(key: bytes, data: bytes) -> bytes:
    """The truncated HMAC-SHA256 of ``data`` under ``key``."""
    return hmac.new(key, data, hashlib.sha256).digest()[:TAG_LEN]


def tag_matches(key: bytes, data: bytes, tag: bytes) -> bool:
    """Constant-time comparison of ``tag`` with the tag of ``data``."""
    return hmac.compare_digest(make_tag(key, data), tag)


def _late_and_unseen(seq: int, highest: int, bitmap: int) -> bool:
    """``seq`` is below ``highest`` but inside the window, and its bit is not set."""
    return highest - WINDOW < seq < highest and not (bitmap >> (highest - seq)) & 1


class ReplayGuard:
    """Per (sender, kind) replay windows of one receiver (see the module docstring)."""

    def __init__(self, max_age_s: float | None = None) -> None:
        self.max_age_s = max_age_s
        # (agent, kind) -> [highest sequence h, its timestamp_us, bitmap of h-63..h, floor]
        self._windows: dict[tuple[str, int], list[int]] = {}

    def check(self, header: Header, now_s: float) -> None:
        """Accept ``header`` (recording it) or raise ReplayError."""
        if self.max_age_s is not None and header.timestamp_us < (now_s - self.max_age_s) * 1e6:
            raise ReplayError(
                f"{header.agent}/{header.kind.topic_name} #{header.sequence}: older than "
                f"{self.max_age_s} s"
            )
        key = (header.agent, int(header.kind))
        seq, stamp = header.sequence, header.timestamp_us
        window = self._windows.get(key)
        if window is None:
            self._windows[key] = [seq, stamp, 1, -1]
            return
        highest, highest_stamp, bitmap, floor = window
        if stamp > highest_stamp and seq > highest:
            shift = min(seq - highest, WINDOW)
            window[:3] = [seq, stamp, ((bitmap << shift) | 1) & _MASK]
        elif stamp > highest_stamp:
            window[:] = [seq, stamp, 1, highest_stamp]
        elif stamp > floor and _late_and_unseen(seq, highest, bitmap):
            window[2] = bitmap | (1 << (highest - seq))
        else:
            raise ReplayError(
                f"{header.agent}/{header.kind.topic_name} #{seq}: replayed or too old "
                f"(highest accepted #{highest})"
            )

    def forget(self, agent: str) -> None:
        """Drop the windows of ``agent`` (e.g. when it leaves the swarm)."""
        for key in [k for k in self._windows if k[0] == agent]:
            del self._windows[key]
