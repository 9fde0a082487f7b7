"""Two-level Wasserstein consensus over a balanced clustering, one message stage a round.

The agent's scaling protocol once the swarm outgrows one group
(:class:`~otswarm.coordination.exchange.AlignmentExchange` runs it with
:meth:`~otswarm.coordination.exchange.AlignmentExchange.set_groups`). A
:class:`ClusterNode` is one agent's part in it; it never touches a link: the
exchange hands it what arrived (:meth:`ClusterNode.receive`) and publishes what
it says (:meth:`ClusterNode.outgoing`). Support ids tag the level of a histogram
on the same ordered support: ``base`` member state, ``base + 1`` cluster
barycenter, ``base + 2`` swarm barycenter.

Each round ``r`` (the agent's tick: move, then publish), with ``s_i`` the states:

- a *member* moves toward the swarm barycenter ``T_h`` its head published last
  round, and publishes its state (level 0), which only its head hears;
- a *head* ``h`` of cluster ``C_h`` (``n_h`` agents) takes the barycenter of its
  own state and its members' last states, ``B_h = bary{s_h, s_j : j in C_h}``,
  then the swarm barycenter of the cluster barycenters weighted by cluster size,
  ``T_h = bary{B_h (n_h), B_g (n_g) : the other heads' last}``, moves toward
  ``T_h`` and publishes ``B_h`` (level 1) and ``T_h`` (level 2), which its
  members and the other heads hear.

On the line the W2 barycenter is quantile averaging, which is linear, so the
barycenter of cluster barycenters weighted by size is the swarm barycenter (up to
the linear binning of each level, which keeps means and moves mass by less than a
gap). Every member of a cluster gets the same target and all targets are the
same up to one round of staleness between heads, so the spread contracts by
about ``1 - eta`` per round, as all-to-all, however many clusters there are.
Information takes two rounds from a member to the other clusters' members.

Deliveries per round: ``N - k`` up; each head's two messages reach its members
and the other heads, ``2 (N - k) + 2 k (k - 1)``; in all ``3 (N - k) + 2 k (k - 1)``,
i.e. ``O(N + k^2)`` against ``N (N - 1)`` all-to-all, ``O(N)`` with
``k ~ sqrt(N)`` (``bench/bench_coordination_scale.py``).
"""

from __future__ import annotations

import numpy as np

from otswarm.coordination.clustering import Clustering
from otswarm.coordination.quantile import barycenter_1d, check_support

MEMBER, CLUSTER, SWARM = 0, 1, 2
LEVELS = (MEMBER, CLUSTER, SWARM)


class ClusterNode:
    """One agent's part in the two-level consensus over ``clustering`` (see the module doc).

    Args:
        me: this agent's id (a member of ``clustering``).
        clustering: the groups and their heads (every agent computes the same).
        levels: the ordered action support the histograms live on.
    """

    def __init__(self, me: str, clustering: Clustering, levels):
        self.me = me
        self.levels = check_support(levels)
        self.clustering = clustering
        group = clustering.label_of(me)  # CoordinationError when me is not in it
        self.head = clustering.heads[group]
        self.is_head = self.head == me
        self.members = [m for m in clustering.members(group) if m != me]
        self.other_heads = [h for h in clustering.heads if h != me]
        self.sizes = dict(zip(clustering.heads, clustering.sizes.tolist(), strict=True))
        self._heard: dict[int, dict[str, tuple[int, np.ndarray]]] = {lv: {} for lv in LEVELS}
        self._cluster: np.ndarray | None = None
        self._target: np.ndarray | None = None

    @property
    def senders(self) -> list[str]:
        """Whom this agent listens to: its members and the other heads (a head), its head."""
        return [*self.members, *self.other_heads] if self.is_head else [self.head]

    def receive(self, sender: str, level: int, r: int, weights) -> bool:
        """Keep ``weights`` of ``level`` from ``sender`` stamped round ``r`` when this
        agent uses it (a head: members' states, other heads' cluster barycenters; a
        member: its head's swarm barycenter); False when it does not."""
        if self.is_head:
            wanted = (level == MEMBER and sender in self.members) or (
                level == CLUSTER and sender in self.sizes and sender != self.me
            )
        else:
            wanted = level == SWARM and sender == self.head
        if wanted:
            self._heard[level][sender] = (r, np.asarray(weights, dtype=float))
        return wanted

    def _fresh(self, level: int, r: int, max_age: int) -> dict[str, np.ndarray]:
        return {a: w for a, (rnd, w) in self._heard[level].items() if abs(r - rnd) <= max_age}

    def target(self, state, r: int, max_age: int = 2) -> tuple[np.ndarray | None, int]:
        """``(T, heard)``: the swarm barycenter to move toward in round ``r`` from what
        arrived within ``max_age`` rounds (None: nothing yet), and how many agents'
        histograms went into it. A head computes ``B_h`` and ``T_h`` from ``state``."""
        if not self.is_head:
            got = self._fresh(SWARM, r, max_age).get(self.head)
            self._target = got
            return got, int(got is not None)
        members = self._fresh(MEMBER, r, max_age)
        self._cluster = barycenter_1d([state, *members.values()], self.levels)
        heads = self._fresh(CLUSTER, r, max_age)
        weights = [self.sizes[self.me], *(self.sizes[h] for h in heads)]
        self._target = barycenter_1d([self._cluster, *heads.values()], self.levels, weights)
        return self._target, len(members) + len(heads)

    @property
    def last_target(self) -> np.ndarray | None:
        """The target of the last :meth:`target` call (None before, or for a member
        that had not heard its head)."""
        return self._target

    def outgoing(self, state) -> list[tuple[int, np.ndarray]]:
        """What to publish this round, as ``(level, weights)``: a member its state, a
        head its cluster and swarm barycenters (once it has computed them)."""
        if not self.is_head:
            return [] if state is None else [(MEMBER, np.asarray(state, dtype=float))]
        if self._cluster is None or self._target is None:
            return []
        return [(CLUSTER, self._cluster), (SWARM, self._target)]
