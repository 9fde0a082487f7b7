"""A board installs otswarm[bridge] and runs: runtime/ and firmware_bridge/ never
import TensorFlow, POT, matplotlib or the trainer at module level."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("tensorflow", "ot", "matplotlib", "trainer", "keras", "pettingzoo")


def _board_modules() -> list[str]:
    names = []
    for package in ("runtime", "firmware_bridge"):
        names.append(package)
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            names.append(info.name)
    return names


def test_board_modules_import_nothing_heavy():
    modules = _board_modules()
    assert "runtime.cli" in modules
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
