"""Serve a simulated MCU on a pseudo-terminal, in this process or a child process.

The simulator owns the pty pair: the firmware logic speaks on the master end,
the host opens the slave device (``/dev/pts/N``) with pyserial. With
``link_path`` the slave is also published under a stable symlink (as udev's
``/dev/serial/by-id/...``), replaced atomically by each new simulator, so a
host that reconnects to the link path finds a restarted simulator.
"""

import logging
import os
import select
import signal
import subprocess
import sys
import threading
import tty
from pathlib import Path

from ..errors import LinkError
from ..firmware.app import FirmwareApp
from .board import SimulatedBoard
from .config import SimulatorConfig
from .hal import SimulatedHal

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.05  # longest sleep between polls when no byte arrives, wall s
STARTUP_TIMEOUT_S = 20.0  # wait for a child simulator to print its device path
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the directory holding firmware_bridge/


SIM_FIRMWARE_NAME = "otswarm-sim 1.0"  # what the simulated MCU says in its HELLO reply


class PtySimulator:
    """A simulated MCU serving on a fresh pty pair until :meth:`stop`."""

    def __init__(self, config: SimulatorConfig, link_path=None):
        self.config = config
        self.master, self._slave = os.openpty()
        for fd in (self.master, self._slave):
            tty.setraw(fd)  # no echo, no line discipline: bytes pass untouched
        os.set_blocking(self.master, False)
        self.slave_path = os.ttyname(self._slave)
        self.link_path = str(link_path) if link_path else None
        if self.link_path:
            tmp = f"{self.link_path}.{os.getpid()}.tmp"
            os.symlink(self.slave_path, tmp)
            os.replace(tmp, self.link_path)
        self.board = SimulatedBoard(config)
        self.hal = SimulatedHal(self.board, self.master)
        self.app = FirmwareApp(
            self.hal,
            board_id=config.board_id,
            firmware=SIM_FIRMWARE_NAME,
            telemetry_hz=config.telemetry_hz,
        )
        self._stop = threading.Event()

    @property
    def device_path(self):
        """The path a host opens: the symlink when there is one, else the pty slave."""
        return self.link_path or self.slave_path

    def serve_forever(self, parent_pid=None):
        """Poll the firmware until :meth:`stop`; sleep in ``select`` between events.

        With ``parent_pid``, also return once this process is no longer that
        process's child (the parent died: no orphan simulators after a crash).
        """
        try:
            while not self._stop.is_set():
                if parent_pid is not None and os.getppid() != parent_pid:
                    log.warning("parent %d is gone; simulator exits", parent_pid)
                    break
                self.hal.advance()
                self.app.poll()
                due = self.app.ms_until_telemetry()
                wait = IDLE_WAIT_S if due is None else min(IDLE_WAIT_S, due / 1000)
                select.select([self.master], [], [], wait)
        finally:
            self._close()

    def stop(self):
        """Ask :meth:`serve_forever` to return (from any thread or a signal handler)."""
        self._stop.set()

    def _close(self):
        for fd in (self.master, self._slave):
            os.close(fd)
        ours = self.link_path and os.path.islink(self.link_path)
        if ours and os.readlink(self.link_path) == self.slave_path:
            os.unlink(self.link_path)


class SimulatorHandle:
    """A running simulator: ``device_path``, :meth:`stop`, :meth:`kill`."""

    def __init__(self, device_path, process=None, server=None, thread=None):
        self.device_path = device_path
        self.process = process
        self._server = server
        self._thread = thread

    @property
    def pid(self):
        """Process id of a child simulator (None when it runs in a thread)."""
        return self.process.pid if self.process else None

    def is_alive(self):
        if self.process:
            return self.process.poll() is None
        return self._thread.is_alive()

    def stop(self, timeout_s=5.0):
        """Stop cleanly (SIGTERM to a child) and wait for it."""
        if self.process:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        else:
            self._server.stop()
            self._thread.join(timeout_s)

    def kill(self):
        """Kill a child simulator at once (SIGKILL): the 'USB unplug' of the tests."""
        if not self.process:
            raise LinkError("kill() needs a simulator started with in_process=False")
        self.process.kill()
        self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_simulator_on_pty(config=None, *, link_path=None, in_process=False, **overrides):
    """Start a simulated MCU on a new pty; return ``(device_path, handle)``.

    Args:
        config: a :class:`SimulatorConfig` (defaults when None).
        link_path: also publish the slave under this symlink (stable across restarts).
        in_process: serve from a daemon thread of this process instead of a
            child process (``python -m otswarm.firmware_bridge.simulator --pty``).
        overrides: :class:`SimulatorConfig` fields to change, e.g. ``seed=3``.
    """
    config = config or SimulatorConfig()
    if overrides:
        config = SimulatorConfig(**{**config.__dict__, **overrides})
    if in_process:
        server = PtySimulator(config, link_path)
        thread = threading.Thread(target=server.serve_forever, name="simulator", daemon=True)
        thread.start()
        return server.device_path, SimulatorHandle(server.device_path, server=server, thread=thread)
    cmd = [sys.executable, "-m", "otswarm.firmware_bridge.simulator", "--pty", "--exit-with-parent"]
    cmd += config.to_args()
    if link_path:
        cmd += ["--link", str(link_path)]
    path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": path}
    )
    ready = select.select([process.stdout], [], [], STARTUP_TIMEOUT_S)[0]
    line = process.stdout.readline().strip() if ready else ""
    if not line:
        process.kill()
        process.wait()
        raise LinkError(f"simulator did not print its device path: {' '.join(cmd)}")
    return line, SimulatorHandle(line, process=process)


def serve_until_signal(config, link_path=None, exit_with_parent=False):
    """Run one simulator in the foreground; print its device path; stop on SIGTERM/SIGINT.

    ``exit_with_parent``: also stop when the process that started this one dies.
    """
    parent_pid = os.getppid() if exit_with_parent else None
    server = PtySimulator(config, link_path)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.stop())
    print(server.device_path, flush=True)
    log.info("simulated MCU %d on %s", config.board_id, server.slave_path)
    server.serve_forever(parent_pid)
