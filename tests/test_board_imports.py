"""A board installs otswarm[bridge] and runs: the runtime (``otswarm``) and the bridge
(``otswarm.firmware_bridge``) never import TensorFlow, POT, matplotlib or the trainer
at module level."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import otswarm
import otswarm.firmware_bridge

HEAVY = ("tensorflow", "ot", "matplotlib", "keras", "pettingzoo")
NOT_ON_THE_BOARD = (
    "otswarm.trainer",
    "otswarm.profiles",
    # the MCU's /main.py: it imports from the microcontroller's own file tree
    # (firmware_bridge/ at its root, docs/serial-protocol.md) and never runs on the board
    "otswarm.firmware_bridge.firmware.main",
)


def _board_modules() -> list[str]:
    """Every module of the installed ``otswarm`` but the trainer (and the data-only profiles)."""
    names = {"otswarm", "otswarm.firmware_bridge"}
    # walked one by one: an editable install maps each folder into otswarm on its own
    for package in (otswarm, otswarm.firmware_bridge):
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            if not info.name.startswith(NOT_ON_THE_BOARD):
                names.add(info.name)
    return sorted(names)


def test_board_modules_import_nothing_heavy(tmp_path):
    modules = _board_modules()
    assert {"otswarm.cli", "otswarm.firmware_bridge.link", "otswarm.ot"} <= set(modules)
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]\n"
        "trainer = [m for m in sys.modules if m.startswith('otswarm.trainer')]\n"
        "print(json.dumps(sorted(heavy + trainer)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
