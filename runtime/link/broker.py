"""The embedded MQTT broker: Mosquitto when installed, else pure-Python amqtt.

Mosquitto (MQTT 5 and 3.1.1) is preferred; it is started as a child process with
a generated configuration listening on one address only. When the binary is not
found, amqtt (MQTT 3.1.1 only, the ``broker`` extra) runs in-process on a
background asyncio loop, and one log line says so.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from otswarm.errors import BrokerError

log = logging.getLogger(__name__)

_SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin")


def find_mosquitto() -> str | None:
    """Path of the ``mosquitto`` binary: PATH first, then the sbin folders Debian uses."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for folder in _SBIN_DIRS:
        candidate = Path(folder) / "mosquitto"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until ``host:port`` accepts TCP connections, or raise BrokerError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"broker did not accept connections on {host}:{port} within {timeout:.0f} s")


def mosquitto_config(host: str, port: int, extra: str = "") -> str:
    """A minimal Mosquitto 2 configuration: one listener, anonymous, no persistence."""
    return (
        f"listener {port} {host}\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "log_dest stderr\n"
        "log_type error\n"
        "log_type warning\n"
        "set_tcp_nodelay true\n"
        f"{extra}"
    )


class EmbeddedBroker:
    """A broker on ``host:port`` for tests, the demo and ``otswarm broker``.

    Args:
        host: address to listen on (loopback by default).
        port: TCP port; 0 picks a free one.
        prefer: ``"auto"`` (Mosquitto if found, else amqtt), ``"mosquitto"`` or ``"amqtt"``.
        config_file: a full Mosquitto configuration to use instead of the generated one.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        prefer: str = "auto",
        config_file: str | os.PathLike | None = None,
    ) -> None:
        if prefer not in ("auto", "mosquitto", "amqtt"):
            raise BrokerError(f"unknown broker kind {prefer!r}: use auto, mosquitto or amqtt")
        self.host = host
        self.port = port or free_port(host)
        self.prefer = prefer
        self.config_file = config_file
        self.kind: str | None = None
        self._process: subprocess.Popen | None = None
        self._workdir: tempfile.TemporaryDirectory | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._amqtt = None

    @property
    def pid(self) -> int | None:
        """The Mosquitto process id while it runs (None for amqtt): fault tests freeze
        or kill it to stand for a broker machine that hangs or loses power."""
        return self._process.pid if self._process is not None else None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def speaks_mqtt5(self) -> bool:
        return self.kind == "mosquitto"

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        binary = find_mosquitto() if self.prefer != "amqtt" else None
        if binary:
            self._start_mosquitto(binary)
        elif self.prefer == "mosquitto":
            raise BrokerError(
                "mosquitto was asked for but is not installed (apt-get install mosquitto)"
            )
        else:
            log.warning("mosquitto not found; using the embedded amqtt broker (MQTT 3.1.1 only)")
            self._start_amqtt()
        try:
            wait_for_port(self.host, self.port, timeout)
        except BrokerError:
            self.stop()
            raise
        log.info("%s broker listening on %s", self.kind, self.url)
        return self

    def _start_mosquitto(self, binary: str) -> None:
        config = self.config_file
        if config is None:
            self._workdir = tempfile.TemporaryDirectory(prefix="otswarm-broker-")
            config = Path(self._workdir.name) / "mosquitto.conf"
            config.write_text(mosquitto_config(self.host, self.port))
        self._process = subprocess.Popen(
            [binary, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.kind = "mosquitto"

    def _start_amqtt(self) -> None:
        try:
            from amqtt.broker import Broker
        except ImportError as exc:
            raise BrokerError(
                "neither mosquitto nor amqtt is available: apt-get install mosquitto, "
                "or pip install 'otswarm[broker]'"
            ) from exc
        config = {"listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}}}
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def boot() -> None:
                self._amqtt = Broker(config, loop=loop)
                await self._amqtt.start()

            try:
                loop.run_until_complete(boot())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=serve, name="amqtt-broker", daemon=True)
        self._thread.start()
        ready.wait(10.0)
        if failure:
            raise BrokerError(f"amqtt broker failed to start: {failure[0]}") from failure[0]
        self.kind = "amqtt"

    def stop(self) -> None:
        """Stop the broker and wait for it to be gone."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stderr:
                self._process.stderr.close()
            self._process = None
        if self._loop is not None and self._amqtt is not None:
            future = asyncio.run_coroutine_threadsafe(self._amqtt.shutdown(), self._loop)
            try:
                future.result(timeout=5)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                if self._thread:
                    self._thread.join(timeout=5)
                self._loop = None
                self._amqtt = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def wait(self) -> int:
        """Block until the broker exits (Ctrl-C stops it); return its exit status."""
        try:
            if self._process is not None:
                return self._process.wait()
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
