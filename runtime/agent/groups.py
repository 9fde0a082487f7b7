"""Scalability: two-level gossip once the swarm outgrows one group.

While the swarm has at most ``capacity`` members, every agent aligns with every
other. Beyond that, the agents are grouped by the OT balanced clustering of
their positions (:func:`otswarm.coordination.clustering.cluster`, groups of at
most ``capacity``) and each aligns with its group, heads also with each other
(:meth:`Clustering.neighbours`): messages per round grow with the group size,
not with the swarm.

Every agent computes the same grouping from the same inputs: the membership
view of the previous round (the agents whose energy offer arrived, itself
included) and the positions those offers carry. It re-clusters, warm-started
from the previous centres, only when that view changes.
"""

from __future__ import annotations

import threading

from otswarm.summaries import Envelope, Kind


class Grouping:
    """This agent's group in the swarm, from the views of ``allocation`` (an
    AllocationRound), kept on ``alignment.set_neighbours`` (an AlignmentExchange)."""

    def __init__(
        self, agent_id: str, allocation, alignment, link, capacity: int, position_m
    ) -> None:
        self.id = agent_id
        self.allocation = allocation
        self.alignment = alignment
        self.capacity = capacity
        self.clustering = None
        self._members: frozenset[str] = frozenset()
        self._positions: dict[str, tuple[float, ...]] = {agent_id: tuple(position_m)}
        self._lock = threading.Lock()
        link.on(Kind.ENERGY_OFFER, self._on_offer)

    def _on_offer(self, envelope: Envelope) -> None:
        with self._lock:
            self._positions[envelope.header.agent] = envelope.message.position_m

    def update(self, round_: int) -> tuple[int | None, str | None]:
        """Re-group when the view of ``round_ - 1`` changed; (group label, head) or Nones."""
        from otswarm.coordination.clustering import cluster, recluster

        members = frozenset(self.allocation.view(round_ - 1)) | {self.id}
        if members != self._members:
            self._members = members
            if len(members) <= self.capacity:
                if self.clustering is not None:
                    self.alignment.set_neighbours(None)
                self.clustering = None
            else:
                ids = sorted(members)
                with self._lock:
                    points = [self._positions.get(a, (0.0, 0.0, 0.0)) for a in ids]
                self.clustering = (
                    cluster(ids, points, self.capacity)
                    if self.clustering is None
                    else recluster(self.clustering, ids, points)
                )
                self.alignment.set_neighbours(self.clustering.neighbours(self.id))
        if self.clustering is None:
            return None, None
        return int(self.clustering.label_of(self.id)), self.clustering.head_of(self.id)
