"""Which board this is, hence the power profile the ledger uses by default.

Read in this order, first answer wins (every path under ``root``, as the meters
read theirs, so tests point it at a fixture tree):

1. the device-tree model (``/proc/device-tree/model``, the same file as
   ``/sys/firmware/devicetree/base/model``): "Raspberry Pi 5 ..." is ``rpi5``,
   "Raspberry Pi 4 ..." or "Compute Module 4" is ``rpi4``, "... Orin Nano ..."
   is ``jetson-orin-nano`` (JetPack 5: "NVIDIA Orin Nano Developer Kit", 6: "NVIDIA
   Jetson Orin Nano ..."), "... Jetson Nano ..." is ``jetson-nano``;
2. ``/etc/nv_tegra_release`` (NVIDIA's L4T stamp): ``BOARD: t210ref`` is the
   Tegra X1 of the Jetson Nano; release R36 (JetPack 6) runs only on Orin;
3. the CPU: ``x86-dev`` on x86-64, and only there.

Anything else (an aarch64 board that is none of these) has no default: the
agent asks for ``[energy].profile`` with :class:`BoardUnknownError`.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from pathlib import Path

from otswarm.energy.errors import ProfileError

MODEL_FILES = ("proc/device-tree/model", "sys/firmware/devicetree/base/model")
TEGRA_RELEASE = "etc/nv_tegra_release"
# (pattern in the device-tree model, profile id), the more specific first
MODELS = (
    (re.compile(r"Raspberry Pi 5"), "rpi5"),
    (re.compile(r"Raspberry Pi (4|Compute Module 4)"), "rpi4"),
    (re.compile(r"Orin Nano"), "jetson-orin-nano"),  # JetPack 5 leaves out "Jetson"
    (re.compile(r"Jetson Nano"), "jetson-nano"),
)
X86_64 = ("x86_64", "amd64")


class BoardUnknownError(ProfileError):
    """This board has no default power profile; the message says what was read."""


@dataclass(frozen=True)
class Board:
    """The profile chosen for this board (``None``: no default) and why, for people."""

    profile: str | None
    reason: str


def _read(root: Path, relative: str) -> str | None:
    try:
        return (root / relative).read_bytes().decode(errors="replace").strip("\0\n ")
    except OSError:
        return None


def _from_tegra_release(text: str) -> str | None:
    if re.search(r"BOARD:\s*t210ref", text):
        return "jetson-nano"
    if re.match(r"#\s*R36\b", text):
        return "jetson-orin-nano"
    return None


def detect_board(root: str | Path = "/", machine: str | None = None) -> Board:
    """The board under ``root`` (``machine``: ``platform.machine()`` unless given)."""
    root = Path(root)
    for relative in MODEL_FILES:
        model = _read(root, relative)
        if model is None:
            continue
        for pattern, profile in MODELS:
            if pattern.search(model):
                return Board(profile, f"/{relative} says {model!r}")
        break  # one device tree: the second file is the same one
    release = _read(root, TEGRA_RELEASE)
    if release is not None and (profile := _from_tegra_release(release)):
        return Board(profile, f"/{TEGRA_RELEASE} says {release.splitlines()[0]!r}")
    machine = machine or platform.machine()
    if machine.lower() in X86_64:
        return Board("x86-dev", f"an {machine} machine with no board model")
    seen = f"device-tree model {model!r}" if model else "no device-tree model"
    return Board(None, f"an {machine} machine, {seen}, no known {TEGRA_RELEASE}")


def default_profile() -> str:
    """The profile id of this board: the default of ``[energy].profile``."""
    board = detect_board()
    if board.profile is None:
        raise BoardUnknownError(
            f"no default power profile for this board ({board.reason}): "
            "set [energy].profile to a bundled profile id or a profile file"
        )
    return board.profile
