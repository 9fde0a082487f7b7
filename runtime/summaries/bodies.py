"""Body layouts of each message kind (wire-format version 2, little-endian).

    HISTOGRAM        support_id u16 | n_bins u16 | lo f32 | hi f32 | q u16[n_bins]
    POINT_CLOUD      k u16 | d u16 | points f32[k*d] (row-major) | q u16[k]
    ENERGY_OFFER     supply_j f32 | demand_j f32 | x_m, y_m, z_m f32 | loss_fraction f32
                     | priority u8
    ALLOCATION_PLAN  round u32 | planner (u8 len + bytes) | n_agents u16
                     | agents (u8 len + bytes)[n_agents]
                     | n_transfers u16 | (source u16, target u16, joules f32)[n_transfers]
    HEARTBEAT        flags u8 (bit 0: battery known) | period_s f32 | battery_soc f32
                     (in [0, 1]; 0 when unknown)
    STATE            online u8 (0/1) | period_s f32
    TELEMETRY        see :mod:`otswarm.summaries.telemetry`
    TRANSFER_REPORT  the ALLOCATION_PLAN layout: round, planner, agent table, transfers

``q`` are uint16 weights summing to 65535 (see :mod:`otswarm.summaries.quantize`);
plan transfers name agents by index into the plan's agent table, whose ids are
valid, distinct and each named by a transfer.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np

from otswarm.summaries.errors import InvalidFieldError, SizeLimitError, SummaryValueError
from otswarm.summaries.kinds import MESSAGE_TYPES, Message
from otswarm.summaries.messages import (
    MAX_BINS,
    MAX_DIM,
    MAX_PLAN_AGENTS,
    MAX_POINT_VALUES,
    MAX_POINTS,
    MAX_TRANSFERS,
    AllocationPlan,
    EnergyOffer,
    Heartbeat,
    Histogram,
    Kind,
    PointCloud,
    State,
    Transfer,
    TransferReport,
    check_id,
)
from otswarm.summaries.quantize import dequantize_weights, quantize_weights
from otswarm.summaries.reader import F32, U16, PayloadReader, pack_text
from otswarm.summaries.rollout import ROLLOUT_CODECS
from otswarm.summaries.telemetry import decode_telemetry, encode_telemetry

_HISTOGRAM = struct.Struct("<HHff")
_CLOUD = struct.Struct("<HH")
_OFFER = struct.Struct("<6fB")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
_HEARTBEAT = struct.Struct("<Bff")
_STATE = struct.Struct("<Bf")
_TRANSFER = np.dtype([("source", "<u2"), ("target", "<u2"), ("joules", "<f4")])


def _limit(count: int, lower: int, upper: int, what: str, r: PayloadReader) -> int:
    if not lower <= count <= upper:
        raise SizeLimitError(f"{r.where}: {what} is {count}, allowed {lower}..{upper}")
    return count


def _encode_histogram(m: Histogram) -> bytes:
    head = _HISTOGRAM.pack(m.support_id, m.weights.size, m.lo, m.hi)
    return head + quantize_weights(m.weights)


def _decode_histogram(r: PayloadReader) -> Histogram:
    support_id, n_bins, lo, hi = r.unpack(_HISTOGRAM, "histogram header")
    if not 1 <= n_bins <= MAX_BINS:
        _limit(n_bins, 1, MAX_BINS, "histogram n_bins", r)
    weights = dequantize_weights(r.array(U16, n_bins, "histogram weights"), r)
    return Histogram.from_wire(weights, lo, hi, support_id)


def _encode_cloud(m: PointCloud) -> bytes:
    k, d = m.points.shape
    points = m.points.astype("<f4").tobytes()
    return _CLOUD.pack(k, d) + points + quantize_weights(m.weights)


def _decode_cloud(r: PayloadReader) -> PointCloud:
    k, d = r.unpack(_CLOUD, "point cloud header")
    _limit(k, 1, MAX_POINTS, "point cloud k", r)
    _limit(d, 1, MAX_DIM, "point cloud d", r)
    _limit(k * d, 1, MAX_POINT_VALUES, "point cloud k*d", r)
    points = r.array(F32, k * d, "point cloud points").reshape(k, d)
    weights = dequantize_weights(r.array(U16, k, "point cloud weights"), r)
    return PointCloud(points, weights)


def _encode_offer(m: EnergyOffer) -> bytes:
    return _OFFER.pack(m.supply_j, m.demand_j, *m.position_m, m.loss_fraction, m.priority)


def _decode_offer(r: PayloadReader) -> EnergyOffer:
    supply, demand, x, y, z, loss, priority = r.unpack(_OFFER, "energy offer")
    return EnergyOffer(supply, demand, (x, y, z), loss, priority)


def _encode_plan(m: AllocationPlan | TransferReport) -> bytes:
    agents = m.agents()
    index = {agent: i for i, agent in enumerate(agents)}
    table = np.array(
        [(index[t.source], index[t.target], t.joules) for t in m.transfers], dtype=_TRANSFER
    )
    return b"".join(
        [
            _U32.pack(m.round),
            pack_text(m.planner),
            _U16.pack(len(agents)),
            *(pack_text(agent) for agent in agents),
            _U16.pack(len(m.transfers)),
            table.tobytes(),
        ]
    )


def _decode_plan(r: PayloadReader, cls: type = AllocationPlan):
    (round_,) = r.unpack(_U32, "plan round")
    planner = r.text("plan planner")
    (n_agents,) = r.unpack(_U16, "plan n_agents")
    _limit(n_agents, 0, MAX_PLAN_AGENTS, "plan n_agents", r)
    agents = [check_id(r.text(f"plan agent {i}"), f"plan agent {i}") for i in range(n_agents)]
    if len(set(agents)) != n_agents:
        raise InvalidFieldError(f"{r.where}: plan agent table names an agent twice")
    (n_transfers,) = r.unpack(_U16, "plan n_transfers")
    _limit(n_transfers, 0, MAX_TRANSFERS, "plan n_transfers", r)
    raw = r.take(n_transfers * _TRANSFER.itemsize, "plan transfers")
    table = np.frombuffer(raw, dtype=_TRANSFER)
    if n_transfers and int(max(table["source"].max(), table["target"].max())) >= n_agents:
        raise InvalidFieldError(f"{r.where}: plan transfer names agent index >= {n_agents}")
    used = len(set(table["source"].tolist()).union(table["target"].tolist()))
    if used != n_agents:  # the encoder's table is exactly the agents its transfers name
        raise InvalidFieldError(
            f"{r.where}: plan agent table has {n_agents - used} agents no transfer names"
        )
    transfers = tuple(
        Transfer(agents[s], agents[t], float(j))
        for s, t, j in zip(table["source"], table["target"], table["joules"], strict=True)
    )
    return cls(round_, planner, transfers)


def _decode_report(r: PayloadReader) -> TransferReport:
    return _decode_plan(r, TransferReport)


def _encode_heartbeat(m: Heartbeat) -> bytes:
    known = m.battery_soc is not None
    return _HEARTBEAT.pack(int(known), m.period_s, m.battery_soc if known else 0.0)


def _decode_heartbeat(r: PayloadReader) -> Heartbeat:
    flags, period, battery = r.unpack(_HEARTBEAT, "heartbeat")
    if flags not in (0, 1):
        raise InvalidFieldError(f"{r.where}: heartbeat flags 0x{flags:02x}, expected 0 or 1")
    if not flags and battery != 0.0:  # NaN too
        raise InvalidFieldError(f"{r.where}: heartbeat battery_soc {battery} when unknown, not 0")
    return Heartbeat(period, battery if flags else None)


def _encode_state(m: State) -> bytes:
    return _STATE.pack(int(m.online), m.period_s)


def _decode_state(r: PayloadReader) -> State:
    online, period = r.unpack(_STATE, "state")
    if online not in (0, 1):
        raise InvalidFieldError(f"{r.where}: state online byte {online}, expected 0 or 1")
    return State(bool(online), period)


_CODECS: dict[Kind, tuple[Callable, Callable]] = {
    Kind.HISTOGRAM: (_encode_histogram, _decode_histogram),
    Kind.POINT_CLOUD: (_encode_cloud, _decode_cloud),
    Kind.ENERGY_OFFER: (_encode_offer, _decode_offer),
    Kind.ALLOCATION_PLAN: (_encode_plan, _decode_plan),
    Kind.HEARTBEAT: (_encode_heartbeat, _decode_heartbeat),
    Kind.STATE: (_encode_state, _decode_state),
    Kind.TELEMETRY: (encode_telemetry, decode_telemetry),
    Kind.TRANSFER_REPORT: (_encode_plan, _decode_report),
    **ROLLOUT_CODECS,
}


# message class -> its kind's header byte and its body encoder: the encoder's one lookup
# checks the type and finds both (the byte as an int: struct packs it faster than a Kind)
ENCODERS: dict[type, tuple[int, Callable[[Message], bytes]]] = {
    MESSAGE_TYPES[kind]: (int(kind), encoder) for kind, (encoder, _) in _CODECS.items()
}


def encode_body(message: Message) -> bytes:
    return ENCODERS[type(message)][1](message)


_DECODERS: dict[Kind, Callable[[PayloadReader], Message]] = {
    kind: decoder for kind, (_, decoder) in _CODECS.items()
}


def decode_body(kind: Kind, reader: PayloadReader) -> Message:
    """Decode the body of ``kind``; values the message type refuses become InvalidFieldError."""
    try:
        return _DECODERS[kind](reader)
    except SummaryValueError as exc:
        raise InvalidFieldError(f"{reader.where}: {exc}") from exc
