"""Message types of the serial protocol and their payloads (version 1).

Every payload is a fixed little-endian ``struct`` layout (the HELLO reply ends
in a variable ASCII firmware name). Commands go host -> MCU and are answered by
ACK, NACK or HELLO_REPLY carrying the *same sequence number* as the command;
TELEMETRY goes MCU -> host unsolicited, numbered by the MCU's own counter.
Byte-by-byte layouts: docs/serial-protocol.md.

Units: volts (V), amperes (A), watts (W), joules (J), degrees Celsius (C),
milliseconds of MCU time (ms); state of charge and duty level are in 0..1.

MicroPython-compatible: the reference firmware imports this module as it is.
"""

import struct
from collections import namedtuple

from .errors import PayloadError

# message types -------------------------------------------------------------
MSG_HELLO = 0x01  # host -> MCU: version handshake, resets the MCU's command memory
MSG_HELLO_REPLY = 0x02  # MCU -> host: answer to HELLO
MSG_TELEMETRY = 0x03  # MCU -> host: one sample of the power sensors
MSG_SET_POWER = 0x10  # host -> MCU: power mode and duty level of the loads
MSG_SET_TELEMETRY_RATE = 0x11  # host -> MCU: telemetry frames per second (0 stops)
MSG_ENERGY_TRANSFER = 0x12  # host -> MCU: move signed joules into (+) / out of (-) the battery
MSG_ACK = 0x20  # MCU -> host: command done; carries a command-specific value
MSG_NACK = 0x21  # MCU -> host: command refused; carries an error code

COMMAND_TYPES = (MSG_HELLO, MSG_SET_POWER, MSG_SET_TELEMETRY_RATE, MSG_ENERGY_TRANSFER)
RESPONSE_TYPES = (MSG_HELLO_REPLY, MSG_ACK, MSG_NACK)

# power modes ---------------------------------------------------------------
MODE_SLEEP = 0  # loads off, MCU asleep between samples
MODE_ECO = 1  # loads at reduced clock: duty scales half the active draw
MODE_RUN = 2  # loads at full clock: duty scales the full active draw
MODE_NAMES = {MODE_SLEEP: "sleep", MODE_ECO: "eco", MODE_RUN: "run"}

# NACK error codes ----------------------------------------------------------
ERR_UNSUPPORTED = 1  # the board cannot do this (e.g. no energy-sharing hardware)
ERR_BAD_PAYLOAD = 2  # payload length or layout wrong for the type
ERR_OUT_OF_RANGE = 3  # a value outside its legal range (duty > 1, rate < 0, NaN)
ERR_UNKNOWN_TYPE = 4  # the MCU does not know this message type
ERR_VERSION = 5  # HELLO asked for a protocol version the MCU does not speak
ERROR_NAMES = {
    ERR_UNSUPPORTED: "unsupported",
    ERR_BAD_PAYLOAD: "bad payload",
    ERR_OUT_OF_RANGE: "out of range",
    ERR_UNKNOWN_TYPE: "unknown type",
    ERR_VERSION: "version mismatch",
}

# capability bits of HELLO_REPLY ---------------------------------------------
CAP_ENERGY_SHARING = 0x01  # the board can move energy into / out of its battery

MAX_TELEMETRY_HZ = 1000.0
MAX_FIRMWARE_NAME_LEN = 32

Hello = namedtuple("Hello", ("protocol_version",))
HelloReply = namedtuple("HelloReply", ("protocol_version", "capabilities", "board_id", "firmware"))
Telemetry = namedtuple(
    "Telemetry",
    (
        "mcu_time_ms",  # MCU clock, ms (simulated board time on the simulator)
        "bus_voltage_v",  # bus voltage seen by the current sensor, V
        "current_a",  # current drawn by the loads, A
        "power_w",  # power drawn by the loads, W
        "soc",  # battery state of charge, 0..1
        "battery_energy_j",  # energy stored in the battery, J
        "harvest_w",  # power delivered by the harvester, W
        "temperature_c",  # board temperature, C
        "duty",  # duty level the loads run at, 0..1
        "mode",  # power mode (MODE_*)
    ),
)
SetPower = namedtuple("SetPower", ("mode", "duty"))
SetTelemetryRate = namedtuple("SetTelemetryRate", ("rate_hz",))
EnergyTransfer = namedtuple("EnergyTransfer", ("joules",))
Ack = namedtuple("Ack", ("value",))
Nack = namedtuple("Nack", ("code",))

_HELLO_REPLY_HEAD = "<BBI"
_LAYOUTS = {
    MSG_HELLO: ("<B", Hello),
    MSG_TELEMETRY: ("<Q8fB", Telemetry),
    MSG_SET_POWER: ("<Bf", SetPower),
    MSG_SET_TELEMETRY_RATE: ("<f", SetTelemetryRate),
    MSG_ENERGY_TRANSFER: ("<f", EnergyTransfer),
    MSG_ACK: ("<f", Ack),
    MSG_NACK: ("<B", Nack),
}


def encode_payload(message):
    """Payload bytes of a message record (one of the namedtuples above)."""
    if isinstance(message, HelloReply):
        name = message.firmware.encode()[:MAX_FIRMWARE_NAME_LEN]
        head = struct.pack(
            _HELLO_REPLY_HEAD, message.protocol_version, message.capabilities, message.board_id
        )
        return head + name
    for layout, record in _LAYOUTS.values():
        if isinstance(message, record):
            return struct.pack(layout, *message)
    raise PayloadError(f"no payload layout for {type(message).__name__}")


def message_type(message):
    """The MSG_* type byte of a message record."""
    if isinstance(message, HelloReply):
        return MSG_HELLO_REPLY
    for msg_type, (_, record) in _LAYOUTS.items():
        if isinstance(message, record):
            return msg_type
    raise PayloadError(f"{type(message).__name__} is not a protocol message")


def decode_payload(msg_type, payload):
    """Decode ``payload`` of a frame of type ``msg_type`` into its record.

    Raises :class:`PayloadError` on an unknown type or a length that does not
    match the type's layout.
    """
    if msg_type == MSG_HELLO_REPLY:
        head = struct.calcsize(_HELLO_REPLY_HEAD)
        if not head <= len(payload) <= head + MAX_FIRMWARE_NAME_LEN:
            raise PayloadError(f"HELLO_REPLY payload of {len(payload)} bytes")
        version, caps, board_id = struct.unpack(_HELLO_REPLY_HEAD, payload[:head])
        name = bytes(payload[head:]).decode("ascii", "replace") if len(payload) > head else ""
        return HelloReply(version, caps, board_id, name)
    layout = _LAYOUTS.get(msg_type)
    if layout is None:
        raise PayloadError(f"unknown message type 0x{msg_type:02x}")
    fmt, record = layout
    if len(payload) != struct.calcsize(fmt):
        raise PayloadError(
            f"message type 0x{msg_type:02x} wants {struct.calcsize(fmt)} payload bytes, "
            f"got {len(payload)}"
        )
    return record(*struct.unpack(fmt, payload))
