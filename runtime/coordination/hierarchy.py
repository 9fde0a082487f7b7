"""Two-level Wasserstein consensus over a balanced clustering, on SwarmLinks.

One round has three phases (support ids tag the aggregation level of a histogram
on the same ordered support: ``base`` member state, ``base + 1`` cluster
barycenter, ``base + 2`` swarm barycenter):

1. every member publishes its state; its head alone listens (sender filter);
2. each head computes its cluster's barycenter (own state and what it heard) and
   publishes it; heads listen to each other and take the barycenter of the
   cluster barycenters weighted by cluster size (on the line, quantile averaging
   is linear, so the barycenter of barycenters is the swarm barycenter);
3. each head publishes that swarm barycenter; its members move toward it with
   step ``eta`` (displacement interpolation), as the head does.

Deliveries per round: ``N - k`` up; each head's two messages reach its members
and the other heads, ``2 (N - k) + 2 k (k - 1)``; in all ``3 (N - k) + 2 k (k - 1)``,
i.e. ``O(N + k^2)`` against ``N (N - 1)`` for all-to-all, ``O(N)`` with
``k ~ sqrt(N)``. Without losses every agent moves toward the same target, so the
spread shrinks by ``1 - eta`` per round, as with all-to-all (up to the linear
binning of the two levels, which keeps means and moves mass by less than a gap).
"""

from __future__ import annotations

import threading

import numpy as np

from otswarm.coordination.alignment import align_step
from otswarm.coordination.clustering import Clustering
from otswarm.coordination.exchange import histogram_message
from otswarm.coordination.quantile import barycenter_1d, check_support
from otswarm.summaries import Envelope, Kind

MEMBER, CLUSTER, SWARM = 0, 1, 2


class ClusterNode:
    """One agent's part in the two-level consensus (member, and head when elected)."""

    def __init__(self, link, clustering: Clustering, levels, state, *, support_id: int = 10):
        self.link = link
        self.me = link.agent
        self.levels = check_support(levels)
        self.state = np.asarray(state, dtype=float)
        self.base = support_id
        self.clustering = clustering
        cid = clustering.label_of(self.me)
        self.head = clustering.head_of(self.me)
        self.is_head = self.head == self.me
        self.members = [m for m in clustering.members(cid) if m != self.me]
        self.sizes = dict(zip(clustering.heads, clustering.sizes.tolist(), strict=True))
        self._cluster: np.ndarray | None = None
        self._target: np.ndarray | None = None
        self._lock = threading.Lock()
        self._inbox: dict[int, dict[str, np.ndarray]] = {MEMBER: {}, CLUSTER: {}, SWARM: {}}
        senders = [*self.members, *[h for h in clustering.heads if h != self.me]]
        for sender in senders if self.is_head else [self.head]:
            link.on(Kind.HISTOGRAM, self._on_histogram, sender=sender)

    def _on_histogram(self, envelope: Envelope) -> None:
        level = envelope.message.support_id - self.base
        if level in ((MEMBER, CLUSTER) if self.is_head else (SWARM,)):
            with self._lock:
                self._inbox[level][envelope.header.agent] = np.asarray(envelope.message.weights)

    def _take(self, level: int) -> dict[str, np.ndarray]:
        with self._lock:
            got, self._inbox[level] = self._inbox[level], {}
        return got

    def _publish(self, weights, level: int, r: int) -> None:
        self.link.publish(histogram_message(weights, self.levels, self.base + level), round=r)

    def phase_up(self, r: int) -> None:
        """Phase 1: a member sends its state to its head."""
        if not self.is_head:
            self._publish(self.state, MEMBER, r)

    def phase_heads(self, r: int) -> None:
        """Phase 2: a head publishes its cluster's barycenter."""
        if self.is_head:
            heard = list(self._take(MEMBER).values())
            self._cluster = barycenter_1d([self.state, *heard], self.levels)
            self._publish(self._cluster, CLUSTER, r)

    def phase_down(self, r: int) -> None:
        """Phase 3: a head publishes the swarm barycenter of the cluster barycenters."""
        if self.is_head:
            heard = self._take(CLUSTER)
            hists = [self._cluster, *heard.values()]
            weights = [self.sizes[self.me], *(self.sizes[h] for h in heard)]
            self._target = barycenter_1d(hists, self.levels, weights)
            self._publish(self._target, SWARM, r)

    @property
    def target(self) -> np.ndarray | None:
        """The swarm barycenter this head computed in the last phase 3 (None for members)."""
        return self._target

    def move(self, step: float) -> np.ndarray:
        """Move the state toward the swarm barycenter heard this round (if any)."""
        target = self._target if self.is_head else self._take(SWARM).get(self.head)
        if target is not None:
            self.state = align_step(self.state, [target], self.levels, step)
        return self.state
