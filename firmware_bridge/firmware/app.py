"""The firmware's protocol logic: answer commands, stream telemetry.

Runs on the microcontroller (MicroPython) and under CPython (tests, simulator)
unchanged: all hardware access goes through a :class:`~otswarm.firmware_bridge.firmware.hal.Hal`.

Command memory: the MCU keeps the last command it executed (sequence, type,
payload) and the answer it sent. A retry of that same command (the host's ACK
was lost) gets the same answer again *without* being executed twice, so an
energy transfer is never applied twice. HELLO clears the memory.
"""

from ..errors import FrameError, PayloadError
from ..frames import PROTOCOL_VERSION, encode_frame
from ..packetizer import Packetizer
from ..protocol import (
    CAP_ENERGY_SHARING,
    COMMAND_TYPES,
    ERR_BAD_PAYLOAD,
    ERR_OUT_OF_RANGE,
    ERR_UNKNOWN_TYPE,
    ERR_UNSUPPORTED,
    ERR_VERSION,
    MAX_TELEMETRY_HZ,
    MODE_NAMES,
    MODE_RUN,
    MSG_ENERGY_TRANSFER,
    MSG_HELLO,
    MSG_SET_POWER,
    MSG_SET_TELEMETRY_RATE,
    MSG_TELEMETRY,
    Ack,
    HelloReply,
    Nack,
    Telemetry,
    decode_payload,
    encode_payload,
    message_type,
)

FIRMWARE_NAME = "otswarm-ref 1.0"


class FirmwareApp:
    """Protocol state machine of the MCU; call :meth:`poll` in the main loop."""

    def __init__(self, hal, board_id=0, firmware=FIRMWARE_NAME, telemetry_hz=1.0):
        self.hal = hal
        self.board_id = board_id
        self.firmware = firmware
        self.packetizer = Packetizer()
        self.mode = MODE_RUN
        self.duty = 1.0
        self.frames_ok = 0
        self.frame_errors = 0
        self.commands_executed = 0
        self._tx_seq = 0
        self._last_command = None  # (seq, type, payload) of the last executed command
        self._last_answer = b""  # its encoded answer, resent on a retry
        self._interval_ms = 0
        self._next_due = hal.ticks_ms()
        self.set_telemetry_rate(telemetry_hz)
        hal.set_load(self.mode, self.duty)

    def set_telemetry_rate(self, rate_hz):
        """Telemetry frames per wall-clock second; 0 stops the stream."""
        self._interval_ms = int(1000 / rate_hz) if rate_hz > 0 else 0
        self._next_due = self.hal.ticks_ms()

    def poll(self):
        """Handle the bytes waiting on the UART, then send telemetry if it is due."""
        data = self.hal.uart_read()
        if data:
            for item in self.packetizer.feed(data):
                if isinstance(item, FrameError):
                    self.frame_errors += 1
                else:
                    self.frames_ok += 1
                    self.handle(item)
        if self._interval_ms:
            now = self.hal.ticks_ms()
            late = self.hal.ticks_diff(now, self._next_due)
            if late >= 0:
                self.send_telemetry()
                # keep the cadence, but never try to catch up a backlog
                step = self._interval_ms if late < self._interval_ms else late + self._interval_ms
                self._next_due = now + step - late

    def ms_until_telemetry(self):
        """Milliseconds until the next telemetry frame is due (None when stopped)."""
        if not self._interval_ms:
            return None
        return max(0, self.hal.ticks_diff(self._next_due, self.hal.ticks_ms()))

    def send_telemetry(self):
        """Sample every sensor and send one TELEMETRY frame."""
        hal = self.hal
        voltage, current, power = hal.read_power()
        soc, energy = hal.read_battery()
        sample = Telemetry(
            hal.board_time_ms(),
            voltage,
            current,
            power,
            soc,
            energy,
            hal.read_harvest_w(),
            hal.read_temperature_c(),
            self.duty,
            self.mode,
        )
        hal.uart_write(encode_frame(MSG_TELEMETRY, self._tx_seq, encode_payload(sample)))
        self._tx_seq = (self._tx_seq + 1) & 0xFF

    def handle(self, frame):
        """Answer one command frame (retries of the last command are answered from memory)."""
        key = (frame.seq, frame.msg_type, frame.payload)
        if frame.msg_type != MSG_HELLO and key == self._last_command:
            self.hal.uart_write(self._last_answer)
            return
        message = self._execute(frame)
        answer = encode_frame(message_type(message), frame.seq, encode_payload(message))
        self._last_command = key
        self._last_answer = answer
        self.hal.uart_write(answer)

    def _execute(self, frame):
        """Execute one command; return its answer record (HelloReply, Ack or Nack)."""
        try:
            command = decode_payload(frame.msg_type, frame.payload)
        except PayloadError:
            known = frame.msg_type in COMMAND_TYPES
            return Nack(ERR_BAD_PAYLOAD if known else ERR_UNKNOWN_TYPE)
        self.commands_executed += 1
        if frame.msg_type == MSG_HELLO:
            if command.protocol_version != PROTOCOL_VERSION:
                return Nack(ERR_VERSION)
            caps = CAP_ENERGY_SHARING if self.hal.energy_sharing else 0
            return HelloReply(PROTOCOL_VERSION, caps, self.board_id, self.firmware)
        if frame.msg_type == MSG_SET_POWER:
            if command.mode not in MODE_NAMES or not 0.0 <= command.duty <= 1.0:
                return Nack(ERR_OUT_OF_RANGE)
            self.mode = command.mode
            self.duty = command.duty
            self.hal.set_load(self.mode, self.duty)
            return Ack(self.duty)
        if frame.msg_type == MSG_SET_TELEMETRY_RATE:
            if not 0.0 <= command.rate_hz <= MAX_TELEMETRY_HZ:
                return Nack(ERR_OUT_OF_RANGE)
            self.set_telemetry_rate(command.rate_hz)
            return Ack(command.rate_hz)
        if frame.msg_type == MSG_ENERGY_TRANSFER:
            if not self.hal.energy_sharing:
                return Nack(ERR_UNSUPPORTED)
            if command.joules != command.joules:  # NaN
                return Nack(ERR_OUT_OF_RANGE)
            return Ack(self.hal.transfer_energy(command.joules))
        # a frame type the MCU only ever sends (telemetry, ack ...) is not a command
        return Nack(ERR_UNKNOWN_TYPE)
