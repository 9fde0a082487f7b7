"""The message kinds of the swarm link, as frozen dataclasses.

Each class validates its values on construction (raising SummaryValueError) and
stores them exactly as the wire carries them: float fields are rounded to
float32, probability weights are normalised to sum 1. What an agent builds is
therefore what every receiver decodes, up to the uint16 weight quantisation
(error bound in :mod:`otswarm.summaries.quantize`).

Units: joules (``_j``), metres (``_m``), seconds (``_s``); a state of charge is a
fraction in [0, 1].
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from otswarm.ids import ID_RULE, is_valid_id
from otswarm.summaries.errors import SummaryValueError

MAX_BINS = 4096
MAX_POINTS = 4096
MAX_DIM = 64
MAX_POINT_VALUES = 16384  # k * d
MAX_PLAN_AGENTS = 4096
MAX_TRANSFERS = 4096
WEIGHT_SUM_TOL = 1e-5  # |sum w - 1| accepted on construction (float32 inputs), then renormalised


class Kind(enum.IntEnum):
    """Message kind: the byte in the header and the last level of the MQTT topic."""

    HISTOGRAM = 1
    POINT_CLOUD = 2
    ENERGY_OFFER = 3
    ALLOCATION_PLAN = 4
    HEARTBEAT = 5
    STATE = 6
    TELEMETRY = 7  # otswarm.summaries.telemetry
    TRANSFER_REPORT = 8
    ROLLOUT = 16  # operator -> agents: a signed policy (otswarm.summaries.rollout)
    ROLLOUT_STATUS = 17  # agent -> operator: what it did with it

    @property
    def topic_name(self) -> str:
        return self.name.lower()


def check_id(value: str, what: str) -> str:
    """``value`` if it is an agent/swarm id (:mod:`otswarm.ids`), else a SummaryValueError."""
    if not is_valid_id(value):
        raise SummaryValueError(f"{what} {value!r} must be {ID_RULE}")
    return value


def _f32(value: float, what: str, *, minimum: float | None = None) -> float:
    """``value`` rounded to float32; finite and >= ``minimum`` when given."""
    try:
        number = float(np.float32(value))
    except (TypeError, ValueError, OverflowError) as exc:
        raise SummaryValueError(f"{what} must be a number, got {value!r}") from exc
    if not math.isfinite(number):
        raise SummaryValueError(f"{what} must be finite (and fit float32), got {value!r}")
    if minimum is not None and number < minimum:
        raise SummaryValueError(f"{what} must be >= {minimum}, got {number}")
    return number


def _uint(value: int, what: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SummaryValueError(f"{what} must be an integer, got {value!r}")
    if not 0 <= int(value) < (1 << bits):
        raise SummaryValueError(f"{what} must be in [0, {(1 << bits) - 1}], got {value}")
    return int(value)


def _frozen_array(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _float_array(values, what: str) -> np.ndarray:
    """A float64 copy of ``values``, or SummaryValueError when they are not numbers."""
    try:
        return np.array(values, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise SummaryValueError(f"{what} must be numbers: {exc}") from exc


def normalised_weights(weights, what: str, count_limit: int) -> np.ndarray:
    """Float64 weights, 1-D, finite, >= 0, summing to 1 within WEIGHT_SUM_TOL; renormalised."""
    array = _float_array(weights, what)
    if array.ndim != 1 or not 1 <= array.size <= count_limit:
        raise SummaryValueError(
            f"{what} must be 1-D with 1..{count_limit} entries, got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise SummaryValueError(f"{what} must be finite and >= 0")
    total = float(array.sum())
    if abs(total - 1.0) > WEIGHT_SUM_TOL:
        raise SummaryValueError(f"{what} must sum to 1 (± {WEIGHT_SUM_TOL}), got {total!r}")
    return _frozen_array(array / total)


def unchecked(cls: type, fields: dict):
    """An instance of the frozen dataclass ``cls`` holding ``fields`` as they are, without
    ``__init__`` and ``__post_init__``: for the decoder, whose values the wire layout
    and its own checks already guarantee (each caller says which)."""
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance


def _check_support(lo: float, hi: float) -> None:
    if not lo < hi:
        raise SummaryValueError(f"histogram support needs lo < hi, got [{lo}, {hi}]")


class _ArrayEquality:
    """Field-wise equality for frozen dataclasses that hold NumPy arrays."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for field in fields(self):
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if isinstance(mine, np.ndarray):
                if not np.array_equal(mine, theirs):
                    return False
            elif mine != theirs:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Histogram(_ArrayEquality):
    """Weights on a shared ordered support of ``n`` equal bins over ``[lo, hi]``.

    Bin ``i`` covers ``[lo + i w, lo + (i + 1) w)`` with ``w = (hi - lo) / n`` and
    centre ``lo + (i + 1/2) w`` (see :meth:`centers`). ``support_id`` (0-65535)
    names the support the swarm agreed on (e.g. the action space of a policy, or
    an observation feature), so receivers only combine histograms on the same one.
    Used for action distributions and observation windows.
    """

    KIND: ClassVar[Kind] = Kind.HISTOGRAM
    weights: np.ndarray
    lo: float = 0.0
    hi: float = 1.0
    support_id: int = 0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "weights", normalised_weights(self.weights, "histogram weights", MAX_BINS))
        set_(self, "lo", _f32(self.lo, "histogram lo"))
        set_(self, "hi", _f32(self.hi, "histogram hi"))
        set_(self, "support_id", _uint(self.support_id, "histogram support_id", 16))
        _check_support(self.lo, self.hi)

    @classmethod
    def from_wire(cls, weights: np.ndarray, lo: float, hi: float, support_id: int) -> Histogram:
        """The decoder's constructor: ``weights`` are ``q / sum q`` of the wire's uint16
        (:func:`~otswarm.summaries.quantize.dequantize_weights`: 1-D, finite, >= 0, summing
        to 1 up to rounding, a fresh array), ``lo``, ``hi`` float32 values and
        ``support_id`` a u16 by the layout; so only the support is left to check."""
        if not -math.inf < lo < hi < math.inf:  # one comparison passes a valid support
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise SummaryValueError(f"histogram lo and hi must be finite, got [{lo}, {hi}]")
            _check_support(lo, hi)
        weights.setflags(write=False)
        return unchecked(cls, {"weights": weights, "lo": lo, "hi": hi, "support_id": support_id})

    def centers(self) -> np.ndarray:
        """Bin centres on the support, in the support's unit."""
        width = (self.hi - self.lo) / self.weights.size
        return self.lo + (np.arange(self.weights.size) + 0.5) * width


@dataclass(frozen=True, eq=False)
class PointCloud(_ArrayEquality):
    """``k`` points of dimension ``d`` (float32 on the wire) with weights summing to 1."""

    KIND: ClassVar[Kind] = Kind.POINT_CLOUD
    points: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        points = _float_array(self.points, "point cloud points")
        with np.errstate(invalid="ignore", over="ignore"):  # checked below, not warned
            rounded = points.astype(np.float32).astype(np.float64)
        if points.ndim != 2 or not (1 <= points.shape[0] <= MAX_POINTS):
            raise SummaryValueError(
                f"point cloud points must be (k, d) with 1 <= k <= {MAX_POINTS}, "
                f"got shape {points.shape}"
            )
        k, d = points.shape
        if not 1 <= d <= MAX_DIM or k * d > MAX_POINT_VALUES:
            raise SummaryValueError(
                f"point cloud needs 1 <= d <= {MAX_DIM} and k*d <= {MAX_POINT_VALUES}, "
                f"got k={k}, d={d}"
            )
        if not np.all(np.isfinite(rounded)):
            raise SummaryValueError("point cloud points must be finite (and fit float32)")
        weights = normalised_weights(self.weights, "point cloud weights", MAX_POINTS)
        if weights.size != k:
            raise SummaryValueError(f"point cloud has {k} points but {weights.size} weights")
        object.__setattr__(self, "points", _frozen_array(rounded))
        object.__setattr__(self, "weights", weights)


@dataclass(frozen=True)
class EnergyOffer:
    """What one agent can give (``supply_j``) and wants (``demand_j``) this round.

    ``position_m`` (x, y, z) lets the planner price a transfer by distance;
    ``loss_fraction`` in [0, 1) is the share of each joule this agent loses when
    it sends or receives energy (converter, line); ``priority`` 0-255, higher
    served first.
    """

    KIND: ClassVar[Kind] = Kind.ENERGY_OFFER
    supply_j: float
    demand_j: float
    position_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    loss_fraction: float = 0.0
    priority: int = 0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "supply_j", _f32(self.supply_j, "offer supply_j", minimum=0.0))
        set_(self, "demand_j", _f32(self.demand_j, "offer demand_j", minimum=0.0))
        position = tuple(self.position_m)
        if len(position) != 3:
            raise SummaryValueError(f"offer position_m must be (x, y, z), got {position!r}")
        set_(self, "position_m", tuple(_f32(v, "offer position_m") for v in position))
        set_(self, "loss_fraction", _f32(self.loss_fraction, "offer loss_fraction", minimum=0.0))
        if self.loss_fraction >= 1.0:
            raise SummaryValueError(f"offer loss_fraction must be < 1, got {self.loss_fraction}")
        set_(self, "priority", _uint(self.priority, "offer priority", 8))


@dataclass(frozen=True)
class Transfer:
    """Move ``joules`` from agent ``source`` to agent ``target``."""

    source: str
    target: str
    joules: float

    def __post_init__(self) -> None:
        check_id(self.source, "transfer source")
        check_id(self.target, "transfer target")
        if self.source == self.target:
            raise SummaryValueError(f"transfer from {self.source!r} to itself")
        object.__setattr__(self, "joules", _f32(self.joules, "transfer joules", minimum=0.0))


def _transfer_table(transfers, what: str) -> tuple[Transfer, ...]:
    """``transfers`` as a tuple of Transfer, within the wire's limits."""
    transfers = tuple(transfers)
    if len(transfers) > MAX_TRANSFERS:
        raise SummaryValueError(f"{what} has {len(transfers)} transfers, limit {MAX_TRANSFERS}")
    if not all(isinstance(t, Transfer) for t in transfers):
        raise SummaryValueError(f"{what} transfers must be Transfer instances")
    if len({a for t in transfers for a in (t.source, t.target)}) > MAX_PLAN_AGENTS:
        raise SummaryValueError(f"{what} names more than {MAX_PLAN_AGENTS} agents")
    return transfers


class _TransferTable:
    """What a plan and a transfer report share: a round, its planner, transfers."""

    def __post_init__(self) -> None:
        what = self.KIND.topic_name.replace("_", " ")
        object.__setattr__(self, "round", _uint(self.round, f"{what} round", 32))
        check_id(self.planner, f"{what} planner")
        object.__setattr__(self, "transfers", _transfer_table(self.transfers, what))

    def agents(self) -> list[str]:
        """Every agent named by a transfer, in order of first appearance."""
        return list(dict.fromkeys(a for t in self.transfers for a in (t.source, t.target)))


@dataclass(frozen=True)
class AllocationPlan(_TransferTable):
    """The energy transfers ``planner`` decided for allocation round ``round``."""

    KIND: ClassVar[Kind] = Kind.ALLOCATION_PLAN
    round: int
    planner: str
    transfers: tuple[Transfer, ...] = ()


@dataclass(frozen=True)
class TransferReport(_TransferTable):
    """What a supplier's battery actually gave under the plan of ``planner`` for ``round``:
    one transfer per target of its row, ``joules`` as its MCU moved them (J sent). Its
    receivers take in only what this says (docs/coordination.md, "Booking by evidence")."""

    KIND: ClassVar[Kind] = Kind.TRANSFER_REPORT
    round: int
    planner: str
    transfers: tuple[Transfer, ...] = ()


@dataclass(frozen=True)
class Heartbeat:
    """Periodic liveness: the sender's heartbeat period and, if known, its battery."""

    KIND: ClassVar[Kind] = Kind.HEARTBEAT
    period_s: float
    battery_soc: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "period_s", _f32(self.period_s, "heartbeat period_s"))
        if self.period_s <= 0:
            raise SummaryValueError(f"heartbeat period_s must be > 0, got {self.period_s}")
        if self.battery_soc is not None:
            soc = _f32(self.battery_soc, "heartbeat battery_soc", minimum=0.0)
            if soc > 1.0:
                raise SummaryValueError(f"heartbeat battery_soc must be <= 1, got {soc}")
            object.__setattr__(self, "battery_soc", soc)


@dataclass(frozen=True)
class State:
    """Retained membership state: ``online`` after connecting, ``offline`` as the
    last will or on a clean close. ``period_s`` is the sender's heartbeat period."""

    KIND: ClassVar[Kind] = Kind.STATE
    online: bool
    period_s: float

    def __post_init__(self) -> None:
        if not isinstance(self.online, (bool, np.bool_)):
            raise SummaryValueError(f"state online must be a bool, got {self.online!r}")
        object.__setattr__(self, "online", bool(self.online))
        object.__setattr__(self, "period_s", _f32(self.period_s, "state period_s"))
        if self.period_s <= 0:
            raise SummaryValueError(f"state period_s must be > 0, got {self.period_s}")
