"""Scalability: the groups the agent's two-level consensus runs on.

While the swarm has at most ``capacity`` members there are no groups: every
agent aligns with every other. Beyond that, the members are grouped by the OT
balanced clustering of their positions (:func:`otswarm.coordination.clustering.cluster`,
groups of at most ``capacity``, each headed by its member nearest the centre),
and the alignment exchange runs the two-level consensus over the groups
(:mod:`otswarm.coordination.hierarchy`: members -> head -> heads -> members), so
messages per round grow with the swarm, not with its square.

Every agent computes the same grouping from the same inputs: the offers of the
previous round that its allocation round holds (the membership view, itself
included) and the positions they carry. It re-clusters, warm-started from the
previous centres, only when that view changes. Grouping decides only; the agent
loop hands the result to the alignment exchange.
"""

from __future__ import annotations

from collections.abc import Mapping

from otswarm.coordination.clustering import Clustering, cluster, recluster


class Grouping:
    """This agent's view of the swarm's groups (groups of at most ``capacity``)."""

    def __init__(self, agent_id: str, capacity: int, position_m) -> None:
        self.id = agent_id
        self.capacity = capacity
        self.position_m = tuple(position_m)
        self.clustering: Clustering | None = None
        self._members: frozenset[str] = frozenset()

    def update(self, offers: Mapping) -> Clustering | None:
        """The groups for the membership view ``offers`` (agent id -> its offer, with
        ``position_m``); None while the view fits in one group."""
        members = frozenset(offers) | {self.id}
        if members == self._members:
            return self.clustering
        self._members = members
        if len(members) <= self.capacity:
            self.clustering = None
            return None
        ids = sorted(members)
        points = [offers[a].position_m if a in offers else self.position_m for a in ids]
        self.clustering = (
            cluster(ids, points, self.capacity)
            if self.clustering is None
            else recluster(self.clustering, ids, points)
        )
        return self.clustering
