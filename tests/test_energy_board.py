"""Board detection: the default power profile from fixture trees of each board's files."""

from __future__ import annotations

import pytest
from energy_support import FIXTURES

from otswarm.agent.config import EnergySection, parse_config
from otswarm.doctor.checks import check_board
from otswarm.energy import load_profile
from otswarm.energy.board import Board, BoardUnknownError, default_profile, detect_board

BOARDS = FIXTURES / "boards"


@pytest.mark.parametrize(
    ("tree", "profile", "source"),
    [
        ("pi5", "rpi5", "/proc/device-tree/model says 'Raspberry Pi 5 Model B Rev 1.0'"),
        ("pi4", "rpi4", "/proc/device-tree/model says 'Raspberry Pi 4 Model B Rev 1.4'"),
        ("cm4", "rpi4", "Compute Module 4"),
        ("pi5_sysfs_only", "rpi5", "/sys/firmware/devicetree/base/model says"),
        ("jetson_nano_jp4", "jetson-nano", "'NVIDIA Jetson Nano Developer Kit'"),
        ("jetson_orin_nano_jp5", "jetson-orin-nano", "'NVIDIA Orin Nano Developer Kit'"),
        ("jetson_orin_nano_jp6", "jetson-orin-nano", "Jetson Orin Nano Engineering"),
        ("tegra_release_nano", "jetson-nano", "/etc/nv_tegra_release says '# R32"),
        ("tegra_release_r36", "jetson-orin-nano", "/etc/nv_tegra_release says '# R36"),
    ],
)
def test_each_board_gets_its_profile_and_the_reason_names_the_file(tree, profile, source):
    board = detect_board(BOARDS / tree, machine="aarch64")
    assert board.profile == profile and source in board.reason
    load_profile(board.profile)  # a bundled profile


def test_x86_dev_only_on_x86_64_with_no_board_model(tmp_path):
    assert detect_board(tmp_path, machine="x86_64").profile == "x86-dev"
    assert detect_board(BOARDS / "pi5", machine="x86_64").profile == "rpi5"
    unknown = detect_board(tmp_path, machine="aarch64")
    assert unknown.profile is None and "aarch64" in unknown.reason


def test_a_board_with_no_profile_is_not_taken_for_another():
    """A Pi 3's model names no profile: no Raspberry Pi 4 or 5 model for it."""
    board = detect_board(BOARDS / "pi3", machine="aarch64")
    assert board.profile is None and "Raspberry Pi 3 Model B Plus" in board.reason


def test_the_config_default_is_this_board_and_the_config_overrides_it(monkeypatch):
    monkeypatch.setattr(
        "otswarm.energy.board.detect_board", lambda: Board("rpi5", "a fixture says so")
    )
    assert EnergySection().profile == "rpi5"
    assert parse_config('[agent]\nid = "a"\n').energy.profile == "rpi5"
    given = parse_config('[agent]\nid = "a"\n[energy]\nprofile = "jetson-nano"\n')
    assert given.energy.profile == "jetson-nano"


def test_an_unknown_board_asks_for_the_profile(monkeypatch):
    monkeypatch.setattr(
        "otswarm.energy.board.detect_board", lambda: Board(None, "an aarch64 machine")
    )
    with pytest.raises(BoardUnknownError, match=r"set \[energy\]\.profile"):
        default_profile()
    given = parse_config('[agent]\nid = "a"\n[energy]\nprofile = "rpi4"\n')
    assert given.energy.profile == "rpi4"  # a config that names it needs no detection


def test_the_doctor_says_which_profile_and_why():
    pi = Board("rpi5", "/proc/device-tree/model says 'Raspberry Pi 5 Model B Rev 1.0'")
    chosen = check_board(pi, "rpi5", None)
    assert chosen.status == "ok" and chosen.detail == f"profile rpi5: {pi.reason}"
    other = check_board(pi, "rpi4", "--profile")
    assert other.status == "warn" and "profile rpi4 from --profile" in other.detail
    assert "this board looks like rpi5" in other.detail
    none = check_board(Board(None, "an aarch64 machine, no device-tree model"), None, None)
    assert none.status == "fail" and "[energy].profile" in none.detail
