"""Coordination on top of the OT kernels and the swarm link (docs/coordination.md).

One module per capability, each usable alone: ``alignment`` (Wasserstein
consensus of action distributions, on ``quantile``), ``allocation`` / ``plans`` /
``planner`` (OT energy sharing, exactly one plan per round), ``drift`` and
``adaptation`` (non-stationarity), ``clustering`` / ``hierarchy`` (scalability:
balanced groups, and the two-level consensus over them); ``costs`` builds cost
matrices in joules (energy efficiency). ``exchange`` binds alignment, drift and
the two-level consensus to one agent's SwarmLink, ``rounds`` allocation.
"""

from otswarm.coordination.adaptation import AdaptationRate, RateMap
from otswarm.coordination.alignment import PolicyAligner, align_step, anchored_step
from otswarm.coordination.allocation import greedy_plan, ot_plan, proportional_plan
from otswarm.coordination.clustering import Clustering, cluster, recluster
from otswarm.coordination.costs import TransferCosts
from otswarm.coordination.drift import DriftMonitor, DriftReading
from otswarm.coordination.errors import CoordinationError, HistogramError, PlanError
from otswarm.coordination.exchange import AlignmentExchange, AlignmentMove
from otswarm.coordination.hierarchy import ClusterNode
from otswarm.coordination.planner import PlanGate, planner_of
from otswarm.coordination.quantile import barycenter_1d, displacement_interpolate, max_pairwise_w1
from otswarm.coordination.rounds import Allocation, AllocationRound

__all__ = [
    "AdaptationRate",
    "AlignmentExchange",
    "AlignmentMove",
    "Allocation",
    "AllocationRound",
    "ClusterNode",
    "Clustering",
    "CoordinationError",
    "DriftMonitor",
    "DriftReading",
    "HistogramError",
    "PlanError",
    "PlanGate",
    "PolicyAligner",
    "RateMap",
    "TransferCosts",
    "align_step",
    "anchored_step",
    "barycenter_1d",
    "cluster",
    "displacement_interpolate",
    "greedy_plan",
    "max_pairwise_w1",
    "ot_plan",
    "planner_of",
    "proportional_plan",
    "recluster",
]
