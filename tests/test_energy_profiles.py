"""Board profiles: every bundled profile loads, ships as package data, and bad
files fail with a ProfileError that names the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from otswarm.energy.errors import ProfileError
from otswarm.energy.profile import list_profiles, load_profile, parse_profile, tomllib
from otswarm.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"rpi4", "rpi5", "jetson-nano", "jetson-orin-nano", "x86-dev"}


def test_bundled_profiles_load_and_are_sane():
    assert set(list_profiles()) >= REQUIRED
    for name in list_profiles():
        profile = load_profile(name)
        assert profile.id == name
        assert 0 < profile.idle_w < profile.loaded_w
        assert profile.per_core_w > 0 and profile.cores > 0
        assert profile.radio_tx_j_per_byte > 0 and profile.radio_rx_j_per_byte > 0
        assert profile.j_per_byte("mqtt_tx") == profile.radio_tx_j_per_byte
        assert profile.j_per_byte("serial") == profile.serial_j_per_byte


def test_every_number_in_a_bundled_profile_has_a_source_comment():
    for path in sorted((ROOT / "profiles").glob("*.toml")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            key, _, value = line.partition("=")
            if not value or not any(c.isdigit() for c in value.split("#")[0]):
                continue
            if key.strip() in {"sample_period_s", "id", "name"}:
                continue
            j = i - 1  # a group of keys may share the comment above the group
            while j >= 0 and "=" in lines[j] and not lines[j].lstrip().startswith("#"):
                j -= 1
            above = lines[j].strip() if j >= 0 else ""
            assert "#" in line or above.startswith("#"), f"{path.name}:{i + 1} {line!r} unsourced"


def test_profiles_are_package_data_in_pyproject():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "otswarm.profiles" in setuptools["packages"]
    assert setuptools["package-dir"]["otswarm.profiles"] == "profiles"
    assert "*.toml" in setuptools["package-data"]["*"]
    assert (ROOT / "profiles" / "__init__.py").is_file()


def test_load_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text((ROOT / "profiles" / "rpi4.toml").read_text().replace('"rpi4"', '"mine"'))
    assert load_profile(path).id == "mine"
    assert load_profile(str(path)).path == str(path)


GOOD = (ROOT / "profiles" / "rpi4.toml").read_text()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("idle_w = 2.7", "idle_w = -1.0"), "power.idle_w"),
        (lambda t: t.replace("loaded_w = 6.4", "loaded_w = 1.0"), "power.loaded_w"),
        (lambda t: t.replace("per_core_w = 0.925", 'per_core_w = "fast"'), "power.per_core_w"),
        (lambda t: t.replace("cores = 4", "cores = 0"), "board.cores"),
        (lambda t: t.replace("cores = 4", "cores = 4\ncolour = 'red'"), "board.colour"),
        (lambda t: t.replace("tx_j_per_byte = 7.0e-6\n", ""), "radio.tx_j_per_byte"),
        (lambda t: t.replace('kind = "model"', 'kind = "psu"'), "meter.kind"),
        (lambda t: t.replace('kind = "model"', 'kind = "model"\nbus = 1'), "meter.bus"),
        (lambda t: t.replace("[serial]", "[serial_link]"), "serial"),
        (lambda t: t.replace("[power]", "[power"), "not valid TOML"),
    ],
)
def test_bad_profiles_name_the_key(edit, message):
    with pytest.raises(ProfileError, match=message.replace(".", r"\.")) as info:
        parse_profile(edit(GOOD), "bad.toml")
    assert "bad.toml" in str(info.value)
    assert isinstance(info.value, ConfigError)


def test_missing_profiles_are_typed_errors(tmp_path):
    with pytest.raises(ProfileError, match="no bundled profile 'pi9'"):
        load_profile("pi9")
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "absent.toml")
