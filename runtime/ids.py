"""The one rule for agent and swarm ids, shared by the config, the wire format,
the MQTT topics and the roster.

An id is 1 to :data:`MAX_ID_LEN` characters of ``A-Z a-z 0-9 _ . -``: it is one
MQTT topic level (no ``/``, ``+``, ``#``), one length-prefixed ASCII field of the
message header (docs/wire-format.md) and a file-name-safe string. Each caller
raises its own typed error with :data:`ID_RULE` in the message.
"""

from __future__ import annotations

import re

MAX_ID_LEN = 32
ID_RULE = f"1-{MAX_ID_LEN} characters of A-Z a-z 0-9 _ . -"
_ID = re.compile(rf"[A-Za-z0-9_.\-]{{1,{MAX_ID_LEN}}}")


def is_valid_id(value: object) -> bool:
    """True when ``value`` is a string that follows the id rule (the whole string)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None
