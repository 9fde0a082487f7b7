"""Ed25519 keys, signatures and the operator-signed roster (otswarm.identity), and
the operator's ``otswarm keys`` commands."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest

from otswarm.identity import (
    KeyFileError,
    Roster,
    RosterError,
    SignatureError,
    UnknownAgentError,
    generate_private_key,
    parse_public_text,
    parse_roster,
    public_bytes,
    public_text,
    read_private_key,
    read_public_key,
    read_roster,
    sign,
    sign_roster,
    verify,
    write_key_pair,
)


@pytest.fixture(scope="module")
def operator():
    return generate_private_key()


@pytest.fixture(scope="module")
def members():
    return {agent: generate_private_key() for agent in ("a0", "a1", "a2")}


def _roster(members, serial=1, swarm="field") -> Roster:
    return Roster(swarm, serial, {a: k.public_key() for a, k in members.items()})


def test_key_pair_round_trips_through_files_with_private_mode(tmp_path):
    key = generate_private_key()
    write_key_pair(key, tmp_path / "a0.key", tmp_path / "a0.pub")
    assert stat.S_IMODE((tmp_path / "a0.key").stat().st_mode) == 0o600
    assert public_bytes(read_private_key(tmp_path / "a0.key")) == public_bytes(key)
    assert public_bytes(read_public_key(tmp_path / "a0.pub")) == public_bytes(key)
    assert public_bytes(parse_public_text(public_text(key))) == public_bytes(key)


def test_existing_key_is_not_overwritten(tmp_path):
    write_key_pair(generate_private_key(), tmp_path / "a.key", tmp_path / "a.pub")
    before = (tmp_path / "a.key").read_bytes()
    with pytest.raises(KeyFileError, match="exists"):
        write_key_pair(generate_private_key(), tmp_path / "a.key", tmp_path / "a.pub")
    assert (tmp_path / "a.key").read_bytes() == before


@pytest.mark.parametrize("content", [None, b"not a key", b"-----BEGIN PRIVATE KEY-----\nAA\n"])
def test_bad_key_files_are_typed_errors(tmp_path, content):
    path = tmp_path / "k.key"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(KeyFileError, match=str(path)):
        read_private_key(path)
    with pytest.raises(KeyFileError):
        read_public_key(path)


def test_signature_verifies_only_for_its_key_and_data():
    key, other = generate_private_key(), generate_private_key()
    signature = sign(key, b"hello")
    assert len(signature) == 64
    verify(key.public_key(), b"hello", signature)
    with pytest.raises(SignatureError):
        verify(key.public_key(), b"hellp", signature)
    with pytest.raises(SignatureError):
        verify(other.public_key(), b"hello", signature)


@pytest.mark.parametrize("text", ["***", "AAAA", ""])
def test_bad_public_text_is_refused(text):
    with pytest.raises(Exception) as info:
        parse_public_text(text)
    assert isinstance(info.value, ValueError) and "public key" in str(info.value)


def test_signed_roster_round_trips_and_verifies_members(operator, members):
    roster = parse_roster(sign_roster(_roster(members), operator), operator.public_key())
    assert roster.swarm == "field" and roster.serial == 1 and set(roster.agents) == set(members)
    roster.verify("a1", b"data", sign(members["a1"], b"data"))
    with pytest.raises(SignatureError):  # a0 cannot sign as a1
        roster.verify("a1", b"data", sign(members["a0"], b"data"))
    with pytest.raises(UnknownAgentError):
        roster.verify("ghost", b"data", sign(members["a0"], b"data"))


def test_roster_signed_by_another_key_is_refused(operator, members):
    document = sign_roster(_roster(members), generate_private_key())
    with pytest.raises(RosterError, match="operator"):
        parse_roster(document, operator.public_key())


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["agents"].update(mallory=d["agents"]["a0"]),  # a member added
        lambda d: d["agents"].pop("a2"),
        lambda d: d.update(serial=d["serial"] + 1),
        lambda d: d.update(swarm="other"),
    ],
)
def test_any_edit_of_a_signed_roster_breaks_it(operator, members, edit):
    document = json.loads(sign_roster(_roster(members), operator))
    edit(document)
    with pytest.raises(RosterError, match="not signed"):
        parse_roster(json.dumps(document).encode(), operator.public_key())


@pytest.mark.parametrize(
    "data",
    [b"\xff", b"[]", b'{"format": "otswarm-roster/1"}', b"{" * 10, b"x" * ((1 << 20) + 1)],
)
def test_malformed_rosters_are_typed_errors(operator, data):
    with pytest.raises(RosterError):
        parse_roster(data, operator.public_key())


def test_roster_of_another_swarm_is_refused(operator, members):
    document = sign_roster(_roster(members, swarm="elsewhere"), operator)
    with pytest.raises(RosterError, match="elsewhere"):
        parse_roster(document, operator.public_key(), swarm="field")


@pytest.mark.parametrize("agents", [{"bad/id": None}, {"": None}])
def test_roster_ids_follow_the_wire_rule(agents):
    key = generate_private_key().public_key()
    with pytest.raises(RosterError):
        Roster("field", 1, {a: key for a in agents})


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "otswarm.cli", "keys", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_operator_cli_makes_keys_signs_and_checks_a_roster(tmp_path):
    for name in ("operator", "a0", "a1"):
        done = _cli("generate", name, "--dir", str(tmp_path), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    again = _cli("generate", "a0", "--dir", str(tmp_path), cwd=tmp_path)
    assert again.returncode == 1 and "exists" in again.stderr
    done = _cli(
        "roster", "a0.pub", "edge-1=a1.pub", "--swarm", "field", "--serial", "4",
        "--operator-key", "operator.key", "--out", "roster.json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    roster = read_roster(tmp_path / "roster.json", read_public_key(tmp_path / "operator.pub"))
    assert set(roster.agents) == {"a0", "edge-1"} and roster.serial == 4
    assert public_bytes(roster.agents["edge-1"]) == public_bytes(
        read_public_key(tmp_path / "a1.pub")
    )
    done = _cli("check", "roster.json", "--operator-pub", "operator.pub", cwd=tmp_path)
    assert done.returncode == 0 and "edge-1" in done.stdout
    forged = _cli("check", "roster.json", "--operator-pub", "a0.pub", cwd=tmp_path)
    assert forged.returncode == 1 and "not signed by the operator" in forged.stderr
