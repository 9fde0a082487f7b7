"""The demo's agent processes: start each as ``python -m otswarm.cli agent``, watch, stop.

Every agent is a real OS process running the same code a board runs, with its
own config file, its JSON-lines log in the output folder and its own exit
status. :class:`AgentProcess` records how each one ended (stopped by the demo,
exited by itself, or killed by a signal from outside) and after how long (a
monotonic clock: never negative, whatever the wall clock does) so the report
can say so.

The children run the interpreter of the demo (``sys.executable``), so they import
the same otswarm, an installed wheel or an editable checkout; their paths are
absolute, so the working directory does not matter.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Ending:
    """How one agent process ended: exit status, seconds since it was started, and a
    sentence for people."""

    returncode: int
    after_s: float
    how: str


class AgentProcess:
    """One ``otswarm agent --config FILE`` child; stdout/stderr go to ``log_path``, its
    pid to ``agent.pid`` next to the config (to kill one by hand and watch the swarm)."""

    def __init__(self, agent_id: str, config_path: Path, log_path: Path) -> None:
        self.agent_id = agent_id
        self.config_path = config_path.resolve()
        self.log_path = log_path.resolve()
        self._started: float | None = None  # time.monotonic() at start
        self.ending: Ending | None = None
        self._stopping = False
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ)
        env.setdefault("NUMBA_NUM_THREADS", "1")
        env.setdefault("OMP_NUM_THREADS", "1")
        with self.log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "otswarm.cli", "agent", "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.config_path.parent,
            )
        self._started = time.monotonic()
        (self.config_path.parent / "agent.pid").write_text(f"{self._process.pid}\n")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def alive(self) -> bool:
        return self.poll() is None and self._process is not None

    def poll(self) -> Ending | None:
        """Note the ending if the process has exited; return it (None while running)."""
        if self.ending is None and self._process is not None:
            code = self._process.poll()
            if code is not None:
                after_s = time.monotonic() - self._started
                self.ending = Ending(code, after_s, self._describe(code))
        return self.ending

    def _describe(self, code: int) -> str:
        if code == 0:
            return "stopped cleanly" if self._stopping else "exited by itself"
        if code < 0:
            name = signal.Signals(-code).name
            by = "by the demo" if self._stopping else "from outside, mid-run"
            return f"killed by {name} {by}"
        return f"failed with exit status {code} (see its log)"

    def terminate(self) -> None:
        """Ask for a clean shutdown (SIGTERM: the agent flushes its ledger, publishes offline)."""
        self._stopping = True
        if self.alive:
            self._process.terminate()

    def wait(self, timeout: float) -> Ending | None:
        """Wait up to ``timeout`` s for the exit; SIGKILL after that."""
        if self._process is None:
            return None
        try:
            self._process.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        return self.poll()
