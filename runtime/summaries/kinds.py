"""Every message kind of the wire format: the union type and the ``Kind`` -> class table."""

from __future__ import annotations

from otswarm.summaries.messages import (
    AllocationPlan,
    EnergyOffer,
    Heartbeat,
    Histogram,
    PointCloud,
    State,
    TransferReport,
)
from otswarm.summaries.rollout import Rollout, RolloutStatus
from otswarm.summaries.telemetry import Telemetry

_CLASSES = (
    Histogram, PointCloud, EnergyOffer, AllocationPlan, Heartbeat, State, Telemetry,
    TransferReport, Rollout, RolloutStatus,
)  # fmt: skip
Message = (
    Histogram | PointCloud | EnergyOffer | AllocationPlan | Heartbeat | State | Telemetry
    | TransferReport | Rollout | RolloutStatus
)  # fmt: skip
MESSAGE_TYPES: dict = {cls.KIND: cls for cls in _CLASSES}
