"""SerialTransport: owns the pyserial port and the reader thread, reopens a lost port.

It knows nothing of frames: it hands every chunk of bytes it reads to
``on_data`` and says when the port was lost and when it came back. Ports are
opened with ``serial.serial_for_url``: a device path (``/dev/ttyACM0``, a pty)
or a pyserial URL (``loop://``, ``socket://host:port``, ``spy://...``).

The reader blocks in the port's read until bytes arrive, not in a polling loop:
an idle board's reader thread wakes for its MCU's frames and at most once every
``read_timeout_s``. ``close`` interrupts the blocked read with pyserial's
``cancel_read`` where the port has it (device paths, ``loop://``, ``spy://``);
on a port without it (``socket://``) closing waits for the read to time out.
"""

import logging
import threading

import serial

from .errors import LinkError

log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 1.0
JOIN_TIMEOUT_S = 2.0


class SerialTransport:
    """One serial port read by a daemon thread.

    Callbacks (all from the reader thread): ``on_data(bytes)``,
    ``on_lost(reason)`` after a read error closed the port, ``on_reopened()``
    after the port was opened again (retried every ``reconnect_interval_s``).
    """

    def __init__(
        self,
        url,
        *,
        on_data,
        on_lost,
        on_reopened,
        baudrate=115200,
        read_timeout_s=1.0,
        reconnect_interval_s=0.2,
    ):
        self.url = url
        self.baudrate = baudrate
        self.read_timeout_s = read_timeout_s
        self.reconnect_interval_s = reconnect_interval_s
        self._on_data = on_data
        self._on_lost = on_lost
        self._on_reopened = on_reopened
        self._port = None
        self._lock = threading.Lock()  # guards _port against write/close races
        self._stopping = threading.Event()
        self._thread = None
        self.bytes_in = 0
        self.bytes_out = 0

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self):
        """Open the port (raise :class:`LinkError` if it cannot be) and start reading."""
        self._open_port()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._read_loop, name="bridge-reader", daemon=True)
        self._thread.start()

    def close(self):
        """Stop the reader thread (interrupting its read) and close the port."""
        self._stopping.set()
        self._cancel_read()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(JOIN_TIMEOUT_S)
        self._thread = None
        self._close_port()

    def write(self, data):
        """Send ``data``; raise :class:`LinkError` when the port is down or fails."""
        with self._lock:
            if self._port is None:
                raise LinkError(f"{self.url}: link is down")
            try:
                self._port.write(data)
            except (serial.SerialException, OSError) as exc:
                raise LinkError(f"{self.url}: write failed: {exc}") from exc
            self.bytes_out += len(data)

    def _open_port(self):
        try:
            port = serial.serial_for_url(
                self.url,
                baudrate=self.baudrate,
                timeout=self.read_timeout_s,
                write_timeout=WRITE_TIMEOUT_S,
            )
            port.reset_input_buffer()  # bytes from before we listened are stale
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkError(f"cannot open {self.url}: {exc}") from exc
        with self._lock:
            self._port = port

    def _close_port(self):
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError) as exc:
                log.debug("%s: close failed: %s", self.url, exc)
        return port is not None

    def _cancel_read(self):
        """Wake a read blocked on the port, where the port can be woken."""
        with self._lock:
            port = self._port
        cancel = getattr(port, "cancel_read", None)
        if cancel is not None:
            try:
                cancel()
            except (serial.SerialException, OSError) as exc:
                log.debug("%s: cancel_read failed: %s", self.url, exc)

    def _read_loop(self):
        while not self._stopping.is_set():
            port = self._port
            if port is None:
                self._reopen()
                continue
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                if not self._stopping.is_set() and self._close_port():
                    log.warning("%s: link lost: %s", self.url, exc)
                    self._on_lost(exc)
                continue
            if data:
                self.bytes_in += len(data)
                self._on_data(data)

    def _reopen(self):
        if self._stopping.wait(self.reconnect_interval_s):
            return
        try:
            self._open_port()
        except LinkError as exc:
            log.debug("%s", exc)
            return
        log.info("%s: port is back", self.url)
        self._on_reopened()
