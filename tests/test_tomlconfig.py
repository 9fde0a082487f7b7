"""The one TOML validator (otswarm.tomlconfig) that the agent config and the board
profiles share: typed errors of the caller's class naming file and key, one parser shim."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from otswarm.energy.errors import ProfileError
from otswarm.energy.profile import parse_profile
from otswarm.errors import ConfigError
from otswarm.tomlconfig import parse_toml, table_to_dataclass

ROOT = Path(__file__).resolve().parents[1]
GOOD_PROFILE = (ROOT / "profiles" / "rpi4.toml").read_text()


class _MyError(ConfigError):
    pass


@dataclass(frozen=True)
class _Table:
    count: int
    names: tuple[str, ...] = ()
    where: Path | None = None


def test_values_are_converted_to_the_field_types():
    table = table_to_dataclass(_Table, {"count": 3, "names": ["a"], "where": "~/x"}, "f.toml: t")
    assert table == _Table(3, ("a",), Path("~/x").expanduser())


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({}, "f.toml: t.count: missing required key 'count'"),
        ({"count": True}, "f.toml: t.count: expected an integer, got True"),
        ({"count": 1, "colour": 2}, "f.toml: t.colour: unknown key 'colour'"),
        ({"count": 1, "names": ["a", 2]}, "f.toml: t.names[1]: expected a string, got 2"),
        ({"count": 1, "where": 4}, "f.toml: t.where: expected a path, got 4"),
        ([1], "f.toml: t: expected a table, got list"),
    ],
)
def test_errors_are_the_callers_type_and_name_file_and_key(table, named):
    with pytest.raises(_MyError) as caught:
        table_to_dataclass(_Table, table, "f.toml: t", _MyError)
    assert str(caught.value).startswith(named)


def test_bad_toml_is_the_callers_error():
    with pytest.raises(_MyError, match=r"^f\.toml: not valid TOML"):
        parse_toml("[t", "f.toml", _MyError)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda t: t.replace("cores = 4", "cores = true"), "board.cores: expected an integer"),
        (lambda t: t.replace('kind = "model"', "kind = 3"), "meter.kind: expected a string"),
        (
            lambda t: "serial = 1\n" + t.replace("[serial]", "").replace("j_per_byte = 2.7e-6", ""),
            "serial: expected a table",
        ),
        (lambda t: t.replace("idle_w = 2.7", "idle_w = nan"), "power.idle_w: must be a finite"),
    ],
)
def test_profiles_are_validated_by_the_shared_helper(edit, named):
    with pytest.raises(ProfileError, match=re.escape(f"bad.toml: {named}")):
        parse_profile(edit(GOOD_PROFILE), "bad.toml")


def test_one_toml_parser_shim_in_the_runtime():
    importers = [
        path.relative_to(ROOT).as_posix()
        for folder in ("runtime", "firmware_bridge")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"^\s*import tom(l|li)", path.read_text(), re.M)
    ]
    assert importers == ["runtime/tomlconfig.py"]
