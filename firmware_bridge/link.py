"""BridgeLink: the host end of the serial link, on pyserial.

The port and its reader thread are :class:`~firmware_bridge.transport.SerialTransport`'s;
bytes go through :class:`~firmware_bridge.packetizer.Packetizer` and
:mod:`~firmware_bridge.protocol`, which never touch a port. A device path
(``/dev/ttyACM0``, a pty) and a pyserial URL (``loop://``, ``socket://...``)
both work.

Commands are sent one at a time, each waits ``command_timeout_s`` for its answer
(ACK, NACK or HELLO_REPLY with the same sequence number) and is resent with the
*same* sequence up to ``retries`` times; the MCU answers a resent command from
memory, so nothing executes twice. When the port fails (USB unplug, simulator
killed) the reader thread closes it, retries opening the same path every
``reconnect_interval_s`` and, once it is back, re-runs the handshake and replays
the last telemetry rate and power setting.
"""

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass

from .errors import (
    CommandRejectedError,
    CommandTimeoutError,
    FrameCRCError,
    FrameTooLongError,
    LinkError,
    PayloadError,
    TelemetryTimeoutError,
)
from .frames import PROTOCOL_VERSION, encode_frame
from .packetizer import Packetizer
from .protocol import (
    CAP_ENERGY_SHARING,
    ERROR_NAMES,
    MODE_RUN,
    MSG_ACK,
    MSG_HELLO,
    MSG_HELLO_REPLY,
    MSG_NACK,
    MSG_TELEMETRY,
    RESPONSE_TYPES,
    EnergyTransfer,
    Hello,
    SetPower,
    SetTelemetryRate,
    decode_payload,
    encode_payload,
    message_type,
)
from .transport import SerialTransport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkStats:
    """Counters since the link was created (a snapshot; see :meth:`BridgeLink.stats`)."""

    frames_ok: int = 0  # frames that decoded with a good CRC
    crc_errors: int = 0  # frames dropped for a CRC mismatch
    decode_errors: int = 0  # pieces dropped as not a frame (bad COBS, short, version)
    too_long: int = 0  # pieces dropped for exceeding the maximum frame length
    resyncs: int = 0  # pieces dropped for any reason (the sum of the three above)
    payload_errors: int = 0  # intact frames whose payload did not fit their type
    telemetry: int = 0  # telemetry records delivered
    retries: int = 0  # command frames resent after a timeout
    timeouts: int = 0  # commands that got no answer after every retry
    nacks: int = 0  # commands refused by the MCU
    stale_answers: int = 0  # answers to no pending command (e.g. a late duplicate)
    reconnects: int = 0  # times the port was reopened after a failure
    bytes_in: int = 0  # bytes read from the port
    bytes_out: int = 0  # bytes written to the port


@dataclass(frozen=True)
class BoardInfo:
    """What the MCU said in its HELLO reply."""

    protocol_version: int
    capabilities: int
    board_id: int
    firmware: str

    @property
    def energy_sharing(self) -> bool:
        """The board can move energy into / out of its battery."""
        return bool(self.capabilities & CAP_ENERGY_SHARING)


class BridgeLink:
    """Host end of the serial link to one microcontroller.

    Args:
        port: device path or pyserial URL.
        baudrate: line rate (ignored by ptys and most URLs).
        telemetry_hz: telemetry rate requested at every (re)connection; 0 = none.
        on_telemetry: called with each :class:`~firmware_bridge.protocol.Telemetry`
            from the reader thread; exceptions it raises are logged and dropped.
        command_timeout_s: wait for an answer per attempt, s.
        retries: resends after the first attempt.
        reconnect_interval_s: pause between attempts to reopen a lost port, s.
        read_timeout_s: longest block of one read of the reader thread, s (``close``
            interrupts it where the port supports ``cancel_read``).
    """

    def __init__(
        self,
        port,
        *,
        baudrate=115200,
        telemetry_hz=1.0,
        on_telemetry=None,
        command_timeout_s=0.25,
        retries=3,
        reconnect_interval_s=0.2,
        read_timeout_s=1.0,
    ):
        self.port = port
        self.on_telemetry = on_telemetry
        self.command_timeout_s = command_timeout_s
        self.retries = retries
        self.reconnect_interval_s = reconnect_interval_s
        self.board = None  # BoardInfo of the last handshake
        self._transport = SerialTransport(
            port,
            on_data=self._receive,
            on_lost=self._lost,
            on_reopened=self._reopened,
            baudrate=baudrate,
            read_timeout_s=read_timeout_s,
            reconnect_interval_s=reconnect_interval_s,
        )
        self._packetizer = Packetizer()
        self._telemetry_hz = telemetry_hz
        self._power = None  # last (mode, duty) the host set, replayed on reconnection
        self._handshake = True
        self._command_lock = threading.Lock()
        self._pending = None  # [seq, event, answer frame] of the command in flight
        self._seq = 0
        self._counts = Counter()
        self._counts_lock = threading.Lock()
        self._telemetry_cond = threading.Condition()
        self._latest = None
        self._ready = threading.Event()
        self._closed = threading.Event()

    # -- lifecycle -----------------------------------------------------------

    def open(self, timeout_s=5.0, handshake=True):
        """Open the port, start the reader, handshake; return the :class:`BoardInfo`.

        Raises :class:`LinkError` when the port cannot be opened or no HELLO
        reply arrives within ``timeout_s``. With ``handshake=False`` the link
        only listens (a monitor of an MCU that streams on its own): no HELLO,
        no telemetry-rate command, not on reconnection either; returns None.
        """
        self._handshake = handshake
        self._closed.clear()
        self._transport.open()
        if not handshake:
            self._ready.set()
            return None
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._start_session()
                return self.board
            except (CommandTimeoutError, LinkError) as exc:
                if time.monotonic() >= deadline:
                    self.close()
                    raise LinkError(
                        f"{self.port}: no handshake within {timeout_s} s: {exc}"
                    ) from exc
                time.sleep(self.reconnect_interval_s)

    def close(self):
        """Stop the reader thread and close the port."""
        self._closed.set()
        self._ready.clear()
        self._transport.close()

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def connected(self) -> bool:
        """Port open and handshake done."""
        return self._ready.is_set()

    def wait_connected(self, timeout_s):
        """Block until :attr:`connected` (after a reconnection); return whether it is."""
        return self._ready.wait(timeout_s)

    def stats(self) -> LinkStats:
        """A snapshot of the counters."""
        with self._counts_lock:
            counts = dict(self._counts)
        return LinkStats(
            **counts, bytes_in=self._transport.bytes_in, bytes_out=self._transport.bytes_out
        )

    # -- telemetry -----------------------------------------------------------

    def latest_telemetry(self):
        """The most recent telemetry record, or None before the first one."""
        return self._latest

    def wait_telemetry(self, timeout_s=2.0):
        """Block until a telemetry record newer than the current one arrives; return it.

        Raises :class:`TelemetryTimeoutError` after ``timeout_s``.
        """
        with self._telemetry_cond:
            count = self._counts["telemetry"]
            if not self._telemetry_cond.wait_for(
                lambda: self._counts["telemetry"] > count, timeout_s
            ):
                raise TelemetryTimeoutError(f"{self.port}: no telemetry within {timeout_s} s")
            return self._latest

    # -- commands ------------------------------------------------------------

    def hello(self) -> BoardInfo:
        """Version handshake; also clears the MCU's command memory."""
        answer = self._command(Hello(PROTOCOL_VERSION))
        self.board = BoardInfo(*answer)
        return self.board

    def set_power(self, duty, mode=MODE_RUN):
        """Set the loads' power mode (protocol.MODE_*) and duty level (0..1)."""
        self._command(SetPower(mode, duty))
        self._power = (mode, duty)

    def set_telemetry_rate(self, rate_hz):
        """Telemetry frames per second (0 stops the stream)."""
        self._command(SetTelemetryRate(rate_hz))
        self._telemetry_hz = rate_hz

    def transfer_energy(self, joules):
        """Move ``joules`` into (+) or out of (-) the battery; return the joules moved.

        The MCU clips to what the battery can take or give. Raises
        :class:`CommandRejectedError` (code ``ERR_UNSUPPORTED``) on a board
        without energy-sharing hardware.
        """
        return self._command(EnergyTransfer(joules)).value

    def _start_session(self):
        self.hello()
        self.set_telemetry_rate(self._telemetry_hz)
        if self._power is not None:
            self.set_power(self._power[1], self._power[0])
        self._ready.set()
        board = self.board
        log.info("%s: connected to %s (board %d)", self.port, board.firmware, board.board_id)

    def _command(self, message):
        """Send one command record, wait for its answer, retry; return the decoded answer."""
        msg_type = message_type(message)
        payload = encode_payload(message)
        with self._command_lock:
            self._seq = (self._seq + 1) & 0xFF
            pending = [self._seq, threading.Event(), None]
            self._pending = pending
            frame = encode_frame(msg_type, self._seq, payload)
            try:
                for attempt in range(self.retries + 1):
                    if attempt:
                        self._count("retries")
                        log.debug("%s: resending type 0x%02x", self.port, msg_type)
                    self._transport.write(frame)
                    if pending[1].wait(self.command_timeout_s):
                        break
                else:
                    self._count("timeouts")
                    raise CommandTimeoutError(
                        f"{self.port}: no answer to type 0x{msg_type:02x} after "
                        f"{self.retries + 1} attempts of {self.command_timeout_s} s"
                    )
            finally:
                self._pending = None
        answer = pending[2]
        record = decode_payload(answer.msg_type, answer.payload)
        if answer.msg_type == MSG_NACK:
            self._count("nacks")
            name = ERROR_NAMES.get(record.code, "unknown error")
            raise CommandRejectedError(
                f"{self.port}: MCU refused type 0x{msg_type:02x}: {name} (code {record.code})",
                record.code,
            )
        expected = MSG_HELLO_REPLY if msg_type == MSG_HELLO else MSG_ACK
        if answer.msg_type != expected:
            raise PayloadError(
                f"{self.port}: answer type 0x{answer.msg_type:02x} to 0x{msg_type:02x}"
            )
        return record

    # -- transport callbacks (reader thread) ------------------------------------

    def _lost(self, _reason):
        self._ready.clear()

    def _reopened(self):
        self._count("reconnects")
        self._packetizer = Packetizer()
        if not self._handshake:
            self._ready.set()
            return
        threading.Thread(target=self._restore_session, name="bridge-restore", daemon=True).start()

    def _restore_session(self):
        """Handshake and replay settings after a reconnection, until done or closed."""
        while not self._closed.is_set() and self._transport.is_open:
            try:
                self._start_session()
                return
            except (CommandTimeoutError, CommandRejectedError, LinkError) as exc:
                log.warning("%s: handshake after reconnection failed: %s", self.port, exc)
                self._closed.wait(self.reconnect_interval_s)

    def _receive(self, data):
        for item in self._packetizer.feed(data):
            if isinstance(item, Exception):
                if isinstance(item, FrameCRCError):
                    self._count("crc_errors")
                elif isinstance(item, FrameTooLongError):
                    self._count("too_long")
                else:
                    self._count("decode_errors")
                self._count("resyncs")
                log.debug("%s: dropped a piece: %s", self.port, item)
                continue
            self._count("frames_ok")
            if item.msg_type == MSG_TELEMETRY:
                self._deliver_telemetry(item)
            elif item.msg_type in RESPONSE_TYPES:
                self._deliver_answer(item)
            else:
                log.warning("%s: unexpected frame type 0x%02x", self.port, item.msg_type)

    def _deliver_answer(self, frame):
        pending = self._pending
        if pending is None or pending[0] != frame.seq or pending[1].is_set():
            self._count("stale_answers")
            return
        pending[2] = frame
        pending[1].set()

    def _deliver_telemetry(self, frame):
        try:
            record = decode_payload(frame.msg_type, frame.payload)
        except PayloadError as exc:
            self._count("payload_errors")
            log.warning("%s: %s", self.port, exc)
            return
        with self._telemetry_cond:
            self._latest = record
            self._count("telemetry")
            self._telemetry_cond.notify_all()
        if self.on_telemetry is not None:
            try:
                self.on_telemetry(record)
            except Exception:
                log.exception("%s: on_telemetry callback failed", self.port)

    def _count(self, name, n=1):
        with self._counts_lock:
            self._counts[name] += n
