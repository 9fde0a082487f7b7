"""One agent-id rule (otswarm.ids): the config, the wire format, the topics and the
roster accept and refuse exactly the same ids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otswarm.agent.config import parse_config
from otswarm.errors import ConfigError
from otswarm.identity.errors import RosterError
from otswarm.identity.keys import Ed25519PrivateKey
from otswarm.identity.roster import Roster
from otswarm.ids import MAX_ID_LEN, is_valid_id
from otswarm.link.topics import topic
from otswarm.summaries.errors import SummaryValueError
from otswarm.summaries.messages import Kind, check_id

ROOT = Path(__file__).resolve().parents[1]
GOOD = ["a", "pi-garden-01", "A.b_c-9", "x" * MAX_ID_LEN]
BAD = ["", "a b", "a/b", "a+", "#", "x" * (MAX_ID_LEN + 1), "a1\n", "é", "a\x00"]


def _config_accepts(agent_id: str) -> bool:
    escaped = agent_id.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    try:
        parse_config(f'[agent]\nid = "{escaped}"\n')
    except ConfigError:
        return False
    return True


def _wire_accepts(agent_id: str) -> bool:
    try:
        check_id(agent_id, "agent")
        topic("s", agent_id, Kind.HEARTBEAT)
    except SummaryValueError:
        return False
    return True


def _roster_accepts(agent_id: str) -> bool:
    try:
        Roster("s", 0, {agent_id: Ed25519PrivateKey.generate().public_key()})
    except RosterError:
        return False
    return True


@pytest.mark.parametrize("agent_id", GOOD + BAD)
def test_every_place_applies_the_same_rule(agent_id):
    expected = agent_id in GOOD
    assert is_valid_id(agent_id) is expected
    assert _config_accepts(agent_id) is expected
    assert _wire_accepts(agent_id) is expected
    assert _roster_accepts(agent_id) is expected


def test_non_strings_are_not_ids():
    assert not is_valid_id(None) and not is_valid_id(7) and not is_valid_id(b"a")


def test_the_rule_is_written_once():
    pattern = re.compile(r"A-Za-z0-9_\.\\?-\]\{1,")
    holders = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "runtime").rglob("*.py")
        if pattern.search(path.read_text()) or "{1,{MAX_ID_LEN}}" in path.read_text()
    ]
    assert holders == ["runtime/ids.py"]
