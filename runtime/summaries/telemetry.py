"""The ``telemetry`` message kind: one agent's energy and state, for the fleet's operators.

Every agent publishes one every ``[agent].telemetry_s`` seconds, retained, so a
viewer that connects late sees the whole fleet at once (``otswarm fleet``).

Body (little-endian), after the summary header::

    layout          u8    1 (the body's own version, see below)
    flags           u8    bit 0 battery_soc known, 1 duty, 2 alignment_w1, 3 drift_w1
    period_s        f32   > 0, the sender's telemetry period
    uptime_s        f64   >= 0, seconds since the agent started
    power_w         f32   >= 0, mean spent power over the last period (W)
    battery_soc     f32   in [0, 1] (0 when unknown)
    duty            f32   in [0, 1] (0 when unknown)
    alignment_w1    f32   >= 0, W1 from the agent's consensus state to the barycenter
                          of its own and its neighbours' states (0 when unknown)
    drift_w1        f32   >= 0, last drift distance (0 when unknown)
    plans_executed  u32   allocation plans this agent executed its part of since start
    policy_sha256   32 B  SHA-256 of the policy model (.tflite bytes) it runs
    board           u8 length + ASCII, the board profile id (may be empty)
    n_components    u8    0..32
    components      n x (name: u8 length + ASCII [a-z0-9_], joules f64 >= 0)
                          joules booked to each ledger component since start
    -- layout 2 --
    rollout_outcome u8    what the agent did with the last policy rollout it answered:
                          0 none yet, 1 adopted, 2 refused, 3 rolled back
    rollout_code    u8 length + ASCII: ``adopted``, the refusal's reason (``unsigned``,
                          ``smoke``, ...) or ``failed`` (empty when none)

Layouts only ever *append* fields: a receiver decodes the fields of the layouts
it knows and skips the bytes a newer layout appended after them (the tag, when
present, still covers them). A layout change therefore bumps ``LAYOUT`` and
adds fields with defaults at the end of :class:`Telemetry` and of its codec.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import ClassVar

from otswarm.summaries.errors import InvalidFieldError, SizeLimitError, SummaryValueError
from otswarm.summaries.messages import Kind, _f32, _uint
from otswarm.summaries.reader import PayloadReader, pack_text

LAYOUT = 2
ROLLOUT_OUTCOMES = range(4)  # 0 none, then otswarm.summaries.rollout.Outcome
MAX_COMPONENTS = 32
HASH_LEN = 32
_COMPONENT = re.compile(r"[a-z0-9_]{1,32}")
_BOARD = re.compile(r"[A-Za-z0-9_.\-]{0,32}")
_FIXED = struct.Struct("<BBfdfffffI")
_JOULES = struct.Struct("<d")
_U8 = struct.Struct("<B")
_OPTIONAL = ("battery_soc", "duty", "alignment_w1", "drift_w1")  # flag bits 0..3
_FRACTIONS = ("battery_soc", "duty")


def _f64(value: float, what: str) -> float:
    """``value`` as a finite float >= 0 (joules and uptime travel as f64)."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise SummaryValueError(f"{what} must be a number, got {value!r}") from exc
    if not number >= 0.0 or number == float("inf"):
        raise SummaryValueError(f"{what} must be finite and >= 0, got {value!r}")
    return number


@dataclass(frozen=True)
class Telemetry:
    """One agent's energy and state (units: J, W, s; fractions in [0, 1]).

    ``joules`` maps ledger components (``ot``, ``policy``, ``mqtt_tx``, ...,
    ``energy_in``, ``energy_out``) to the joules booked since the agent started.
    ``None`` for an optional figure means the agent does not know it (yet).
    """

    KIND: ClassVar[Kind] = Kind.TELEMETRY
    period_s: float
    uptime_s: float
    power_w: float
    joules: dict[str, float] = field(default_factory=dict)
    battery_soc: float | None = None
    duty: float | None = None
    alignment_w1: float | None = None
    drift_w1: float | None = None
    plans_executed: int = 0
    policy_sha256: bytes = bytes(HASH_LEN)
    board: str = ""
    rollout_outcome: int = 0
    rollout_code: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "period_s", _f32(self.period_s, "telemetry period_s"))
        if self.period_s <= 0:
            raise SummaryValueError(f"telemetry period_s must be > 0, got {self.period_s}")
        set_(self, "uptime_s", _f64(self.uptime_s, "telemetry uptime_s"))
        set_(self, "power_w", _f32(self.power_w, "telemetry power_w", minimum=0.0))
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value is None:
                continue
            value = _f32(value, f"telemetry {name}", minimum=0.0)
            if name in _FRACTIONS and value > 1.0:
                raise SummaryValueError(f"telemetry {name} must be <= 1, got {value}")
            set_(self, name, value)
        set_(self, "plans_executed", _uint(self.plans_executed, "telemetry plans_executed", 32))
        if not isinstance(self.policy_sha256, (bytes, bytearray)) or len(self.policy_sha256) != (
            HASH_LEN
        ):
            raise SummaryValueError(f"telemetry policy_sha256 must be {HASH_LEN} bytes")
        set_(self, "policy_sha256", bytes(self.policy_sha256))
        if not isinstance(self.board, str) or not _BOARD.fullmatch(self.board):
            raise SummaryValueError(f"telemetry board {self.board!r}: 0-32 of A-Z a-z 0-9 _ . -")
        if self.rollout_outcome not in ROLLOUT_OUTCOMES:
            raise SummaryValueError(f"telemetry rollout_outcome {self.rollout_outcome!r}: 0..3")
        set_(self, "rollout_outcome", int(self.rollout_outcome))
        if not isinstance(self.rollout_code, str) or not _BOARD.fullmatch(self.rollout_code):
            raise SummaryValueError(f"telemetry rollout_code {self.rollout_code!r}: 0-32 of an id")
        if (self.rollout_outcome == 0) != (self.rollout_code == ""):
            raise SummaryValueError("telemetry rollout_code goes with a rollout_outcome")
        joules = dict(self.joules)
        if len(joules) > MAX_COMPONENTS:
            raise SummaryValueError(f"telemetry has {len(joules)} components > {MAX_COMPONENTS}")
        for name in joules:
            if not isinstance(name, str) or not _COMPONENT.fullmatch(name):
                raise SummaryValueError(f"telemetry component {name!r}: 1-32 of a-z 0-9 _")
        set_(self, "joules", {c: _f64(j, f"telemetry joules[{c}]") for c, j in joules.items()})

    @property
    def policy_hash(self) -> str:
        """The policy's SHA-256 in hex."""
        return self.policy_sha256.hex()


def encode_telemetry(m: Telemetry) -> bytes:
    flags = sum(1 << bit for bit, name in enumerate(_OPTIONAL) if getattr(m, name) is not None)
    optional = [getattr(m, name) or 0.0 for name in _OPTIONAL]
    fixed = _FIXED.pack(LAYOUT, flags, m.period_s, m.uptime_s, m.power_w, *optional,
                        m.plans_executed)  # fmt: skip
    components = b"".join(pack_text(c) + _JOULES.pack(j) for c, j in m.joules.items())
    return b"".join(
        [fixed, m.policy_sha256, pack_text(m.board), _U8.pack(len(m.joules)), components,
         _U8.pack(m.rollout_outcome), pack_text(m.rollout_code)]
    )  # fmt: skip


def decode_telemetry(r: PayloadReader) -> Telemetry:
    layout, flags, period, uptime, power, *optional, plans = r.unpack(_FIXED, "telemetry")
    if layout < 1:
        raise InvalidFieldError(f"{r.where}: telemetry layout {layout}, expected >= 1")
    if flags >> len(_OPTIONAL):
        raise InvalidFieldError(f"{r.where}: unknown telemetry flags 0x{flags:02x}")
    policy = r.take(HASH_LEN, "telemetry policy_sha256")
    board = r.text("telemetry board")
    (count,) = r.unpack(_U8, "telemetry n_components")
    if count > MAX_COMPONENTS:
        raise SizeLimitError(f"{r.where}: telemetry n_components {count} > {MAX_COMPONENTS}")
    joules = {}
    for i in range(count):
        name = r.text(f"telemetry component {i}")
        if name in joules:
            raise InvalidFieldError(f"{r.where}: telemetry component {name!r} twice")
        (joules[name],) = r.unpack(_JOULES, f"telemetry joules[{name}]")
    rollout = {}
    if layout >= 2:
        (outcome,) = r.unpack(_U8, "telemetry rollout_outcome")
        rollout = {"rollout_outcome": outcome, "rollout_code": r.text("telemetry rollout_code")}
    if layout > LAYOUT:  # a newer sender appended fields this receiver does not know
        r.offset = r.end
    known = {name: v if flags >> bit & 1 else None
             for bit, (name, v) in enumerate(zip(_OPTIONAL, optional, strict=True))}  # fmt: skip
    return Telemetry(
        period,
        uptime,
        power,
        joules,
        plans_executed=plans,
        policy_sha256=policy,
        board=board,
        **known,
        **rollout,
    )
