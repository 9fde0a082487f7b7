"""The session number a link starts with (the ``session`` field of the header).

A session is numbered by its start time in whole seconds since the Unix epoch
(it fits the header's u32 until 2106), and made larger than every earlier
session of the same agent id in this process, so two starts within one second
still differ. A receiver takes a larger session as a restart of the sender
(its replay windows start over) and refuses messages of smaller ones; see
:mod:`otswarm.summaries.auth`. An agent whose clock later goes back (a board
that booted with its clock ahead) starts a smaller session: receivers refuse it
until its old entry expires (``misses * max_heartbeat_period_s`` without an
accepted message), then hear it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

MAX_SESSION = 0xFFFFFFFF
_lock = threading.Lock()
_last: dict[str, int] = {}


def next_session(agent: str, clock: Callable[[], float]) -> int:
    """A new session number for ``agent``: ``int(clock())``, above its last one here."""
    with _lock:
        session = min(max(int(clock()), _last.get(agent, 0) + 1), MAX_SESSION)
        _last[agent] = session
        return session
