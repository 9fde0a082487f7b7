"""Authenticity and freshness of summaries: HMAC-SHA256 tags, clock skew, sessions
and a replay window.

Tag: ``HMAC-SHA256(key, header || body)`` truncated to its first 16 bytes
(128 bits, as RFC 4868 truncates HMAC-SHA-256 for IPsec), appended to the body.
The key is per swarm; every agent of the swarm holds it.

Freshness, per sender, in the receiver's :class:`ReplayGuard`:

* **Skew.** A message stamped more than ``max_skew_s`` ahead of the receiver's
  clock (``timestamp_us > (now + max_skew_s) * 1e6``) is refused and leaves no
  trace. (Timestamps order nothing else: within a session the sequence does.)
* **Sessions** (like Sparkplug's bdSeq). Every start of a sender's link is a new
  session, numbered by its start time in whole seconds, larger than any session
  before it. The receiver keeps the sender's current session ``S``: a message of
  session ``s > S`` starts a new session (every window of the sender restarts, so
  a restarted agent is heard again at once); ``s < S`` is refused (a message of
  an older session, e.g. a replayed last will); ``s == S`` goes to the window.
* **Window**, per kind within the session (kinds travel on separate topics with
  separate QoS and may be reordered against each other): the highest accepted
  sequence ``h`` and a 64-bit bitmap of ``h-63..h``. A sequence ``q`` is accepted
  when ``q > h`` (the window slides) or when ``h - 64 < q < h`` and its bit is
  clear (reordering: e.g. a last will encoded just before the ``online`` state
  that overtook it); anything else is a replay.

Optionally a message older than ``max_age_s`` by the receiver's clock is refused
too (off by default: boards without a real-time clock boot with a wrong time
until NTP has run). State per sender is small and only made for senders the
link admitted (see :mod:`otswarm.link.membership`); :meth:`ReplayGuard.forget`
drops it.
"""

from __future__ import annotations

import hashlib
import hmac

from otswarm.summaries.errors import FutureMessageError, ReplayError
from otswarm.summaries.header import Header

TAG_LEN = 16
WINDOW = 64
_MASK = (1 << WINDOW) - 1
DEFAULT_MAX_SKEW_S = 30.0


_BLOCK = 64  # SHA-256's block size, bytes
_IPAD = bytes(x ^ 0x36 for x in range(256))  # translation tables: key byte -> byte ^ pad
_OPAD = bytes(x ^ 0x5C for x in range(256))


_MAX_KEYS = 8  # a process holds one swarm key (a viewer one per swarm it watches)
_PADS: dict[bytes, tuple] = {}  # key -> _keyed(key)


def _keyed(key: bytes) -> tuple:
    """The SHA-256 states after absorbing ``K ^ ipad`` and ``K ^ opad`` (RFC 2104: ``K``
    is the key, hashed first when longer than a block, then zero-padded to one block),
    kept per key: each tag copies them instead of hashing the pads again."""
    key = bytes(key)
    pads = _PADS.get(key)
    if pads is None:
        block = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
        block = block.ljust(_BLOCK, b"\0")
        pads = hashlib.sha256(block.translate(_IPAD)), hashlib.sha256(block.translate(_OPAD))
        if len(_PADS) >= _MAX_KEYS:
            _PADS.clear()
        _PADS[key] = pads
    return pads


def make_tag(key: bytes, data: bytes) -> bytes:
    """The truncated ``HMAC-SHA256(key, data) = H((K ^ opad) | H((K ^ ipad) | data))``."""
    try:
        inner_pad, outer_pad = _PADS[key]
    except (KeyError, TypeError):  # a key not seen yet, or not bytes (bytearray, memoryview)
        inner_pad, outer_pad = _keyed(key)
    inner = inner_pad.copy()
    inner.update(data)
    outer = outer_pad.copy()
    outer.update(inner.digest())
    return outer.digest()[:TAG_LEN]


def tag_matches(key: bytes, data: bytes, tag: bytes) -> bool:
    """Constant-time comparison of ``tag`` with the tag of ``data``."""
    return hmac.compare_digest(make_tag(key, data), tag)


class _Sender:
    """The current session of one sender and its windows: kind -> [h, bitmap]."""

    __slots__ = ("session", "windows")

    def __init__(self, session: int) -> None:
        self.session = session
        self.windows: dict[int, list[int]] = {}


class ReplayGuard:
    """Per-sender sessions and per-kind replay windows of one receiver (module docstring).

    Args:
        max_age_s: refuse messages older than this by the receiver's clock (None: off).
        max_skew_s: refuse messages stamped more than this ahead of it (None: off).
    """

    def __init__(
        self, max_age_s: float | None = None, max_skew_s: float | None = DEFAULT_MAX_SKEW_S
    ) -> None:
        self.max_age_s = max_age_s
        self.max_skew_s = max_skew_s
        self._senders: dict[str, _Sender] = {}

    def __len__(self) -> int:
        return len(self._senders)

    def check(self, header: Header, now_s: float) -> None:
        """Accept ``header`` (recording it) or raise ReplayError (FutureMessageError
        for a message from the future)."""
        name = f"{header.agent}/{header.kind.topic_name} #{header.sequence}"
        self._check_clock(header, now_s, name)
        sender = self._senders.get(header.agent)
        if sender is None or header.session > sender.session:
            sender = self._senders[header.agent] = _Sender(header.session)
        elif header.session < sender.session:
            raise ReplayError(
                f"{name}: of session {header.session}, older than the current {sender.session}"
            )
        seq = header.sequence
        window = sender.windows.get(header.kind)
        if window is None:
            sender.windows[header.kind] = [seq, 1]
            return
        highest, bitmap = window
        if seq > highest:
            window[:] = [seq, ((bitmap << min(seq - highest, WINDOW)) | 1) & _MASK]
        elif highest - WINDOW < seq < highest and not (bitmap >> (highest - seq)) & 1:
            window[1] = bitmap | (1 << (highest - seq))
        else:
            raise ReplayError(f"{name}: replayed or too old (highest accepted #{highest})")

    def _check_clock(self, header: Header, now_s: float, name: str) -> None:
        if self.max_skew_s is not None and header.timestamp_us > (now_s + self.max_skew_s) * 1e6:
            raise FutureMessageError(
                f"{name}: stamped {header.timestamp_us / 1e6 - now_s:.3f} s ahead of our "
                f"clock, more than the allowed skew of {self.max_skew_s} s"
            )
        if self.max_age_s is not None and header.timestamp_us < (now_s - self.max_age_s) * 1e6:
            raise ReplayError(f"{name}: older than {self.max_age_s} s")

    def forget(self, agent: str) -> None:
        """Drop the state of ``agent`` (it expired from the membership table)."""
        self._senders.pop(agent, None)
