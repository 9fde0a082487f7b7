"""The CLI shows every sub-command of the design; unbuilt ones exit 2 and say so."""

from __future__ import annotations

import subprocess
import sys

from runtime import cli

DESIGN_COMMANDS = {"demo", "agent", "broker", "train", "export", "profile", "bench"}


def _otswarm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_design_command():
    result = _otswarm("--help")
    assert result.returncode == 0
    for name in DESIGN_COMMANDS:
        assert name in result.stdout


def test_unbuilt_commands_exit_2_with_a_message():
    for name, (_, issue) in cli.NOT_BUILT.items():
        result = _otswarm(name)
        assert result.returncode == 2, name
        assert f"not built yet (issue #{issue})" in result.stderr
        assert result.stdout == ""
