"""LiteRT's "Created TensorFlow Lite XNNPACK delegate" banner, which its C++ writes to
file descriptor 2, stays out of the output unless ``-v`` asks for debug lines."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from otswarm.link.broker import free_port
from otswarm.policy.interpreter import native_stderr_to_log

BANNER = "Created TensorFlow Lite XNNPACK delegate"


def _run(argv: list[str], tmp_path) -> str:
    done = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    return done.stdout + done.stderr


def test_doctor_prints_no_banner_and_shows_it_as_a_debug_line_with_v(tmp_path):
    doctor = ["-m", "otswarm.cli", "doctor", "--broker", f"mqtt://127.0.0.1:{free_port()}"]
    quiet = _run(doctor, tmp_path)
    assert "LiteRT" in quiet and BANNER not in quiet
    verbose = _run(["-m", "otswarm.cli", "-v", *doctor[2:]], tmp_path)
    (line,) = [line for line in verbose.splitlines() if BANNER in line]
    assert "DEBUG otswarm.policy.interpreter: LiteRT: INFO: " in line


def test_a_policy_run_at_several_batch_sizes_prints_no_banner(tmp_path):
    code = (
        "import numpy as np\n"
        "from otswarm.policy import Policy\n"
        "p = Policy.load_default('harvest')\n"
        "for n in (1, 16, 3):\n"
        "    p.action_probabilities(np.zeros((n, p.observation_size), np.float32))\n"
        "print('ran')\n"
    )
    output = _run(["-c", code], tmp_path)
    assert "ran" in output and BANNER not in output


def test_native_lines_become_log_records_and_fd_2_comes_back(capfd, caplog):
    with caplog.at_level(logging.DEBUG, logger="otswarm.policy.interpreter"):
        with native_stderr_to_log():
            os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
            os.write(2, b"ERROR: something native went wrong\n")
        os.write(2, b"after the block\n")
    levels = {r.getMessage(): r.levelno for r in caplog.records}
    assert levels == {
        "LiteRT: INFO: Created TensorFlow Lite XNNPACK delegate for CPU.": logging.DEBUG,
        "LiteRT: ERROR: something native went wrong": logging.WARNING,
    }
    assert capfd.readouterr().err == "after the block\n"
