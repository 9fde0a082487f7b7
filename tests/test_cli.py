"""The CLI shows every sub-command of the design, each with its own help."""

from __future__ import annotations

import subprocess
import sys

from otswarm import cli

DESIGN_COMMANDS = {"demo", "agent", "broker", "train", "export", "profile", "bench", "doctor"}


def _otswarm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "otswarm.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_design_command():
    result = _otswarm("--help")
    assert result.returncode == 0
    for name in DESIGN_COMMANDS:
        assert name in result.stdout


def test_every_command_answers_its_help():
    for name in cli.COMMANDS:
        result = _otswarm(name, "--help")
        assert result.returncode == 0, (name, result.stderr)
        assert result.stdout.startswith(f"usage: otswarm {name}")
