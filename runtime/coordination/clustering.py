"""Balanced clustering of a swarm by optimal transport, and cluster heads.

Agents at positions ``x_i`` (m) are assigned to ``k = ceil(N / capacity)``
centres ``c_j`` by the capacitated assignment

    min_{P in {0,1}^{N x k}}  sum_ij P_ij |x_i - c_j|^2   s.t.  P 1 = 1,  P^T 1 <= capacity,

an OT problem between one unit per agent and ``capacity`` units per centre (a
dummy agent absorbs the ``k * capacity - N`` spare seats at zero cost). Its LP
has integral vertices, so the exact solver (``otswarm.ot.emd``) returns an
assignment; above ``exact_limit`` agent-centre pairs the entropic solver is used
instead (``otswarm.ot.sinkhorn``, log domain) and rounded: each agent goes to its
largest plan entry, then agents of overfull clusters move, cheapest regret first,
to the nearest cluster with room. Either way no group exceeds ``capacity``.
A few Lloyd iterations alternate assignment and centre = mean of its members.

Each cluster's head is its member nearest the centre (ties: smallest id). When
membership changes, :func:`recluster` starts from the previous centres (adding
or dropping centres when ``k`` changes) and re-elects heads.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from otswarm.coordination.errors import CoordinationError

EXACT_LIMIT = 200_000  # agent x centre pairs solved exactly (emd takes ~1 s there)


@dataclass(frozen=True)
class Clustering:
    """Who is in which group and who heads it (``ids`` sorted, ``labels`` aligned)."""

    ids: tuple[str, ...]
    labels: np.ndarray
    centres: np.ndarray
    heads: tuple[str, ...]
    capacity: int

    def members(self, cluster: int) -> tuple[str, ...]:
        return tuple(self.ids[i] for i in np.flatnonzero(self.labels == cluster))

    def label_of(self, agent: str) -> int:
        """The group of ``agent`` (ids are sorted: binary search)."""
        i = bisect.bisect_left(self.ids, agent)
        if i == len(self.ids) or self.ids[i] != agent:
            raise CoordinationError(f"agent {agent!r} is not in this clustering")
        return int(self.labels[i])

    def head_of(self, agent: str) -> str:
        return self.heads[self.label_of(agent)]

    @property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.heads))

    def neighbours(self, agent: str) -> list[str]:
        """Whom ``agent`` gossips with within groups: its group, plus the other heads
        when it is a head. The graph is connected (groups meet through heads), so
        consensus is geometric, but much slower than the two-level consensus the
        agent runs (:mod:`otswarm.coordination.hierarchy`); the scale benchmark
        keeps it as the reference, the outcomes simulation as a strategy."""
        group = self.label_of(agent)
        peers = [m for m in self.members(group) if m != agent]
        if self.heads[group] == agent:
            peers += [h for h in self.heads if h != agent]
        return peers


def balanced_assignment(points, centres, capacity: int, exact_limit: int = EXACT_LIMIT):
    """Labels (N,) of the capacitated assignment of ``points`` to ``centres`` (see module doc)."""
    x = np.asarray(points, dtype=float)
    c = np.asarray(centres, dtype=float)
    n, k = x.shape[0], c.shape[0]
    if capacity < 1 or k * capacity < n:
        raise CoordinationError(f"{k} centres x capacity {capacity} cannot hold {n} agents")
    cost = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
    spare = k * capacity - n
    a = np.concatenate([np.ones(n), [float(spare)]]) if spare else np.ones(n)
    full = np.vstack([cost, np.zeros((1, k))]) if spare else cost
    b = np.full(k, float(capacity))
    if n * k <= exact_limit:
        from otswarm.ot import emd

        plan = emd(a, b, full).plan[:n]
    else:
        from otswarm.ot import sinkhorn

        scale = float(cost.max()) or 1.0
        plan = sinkhorn(a / n, b / n, full / scale, 1e-3, method="log", max_iter=2000).plan[:n]
    labels = np.argmax(plan, axis=1)
    return _repair(labels, cost, capacity)


def _repair(labels: np.ndarray, cost: np.ndarray, capacity: int) -> np.ndarray:
    """Move agents out of overfull clusters, smallest regret first, to the best with room."""
    labels = labels.copy()
    sizes = np.bincount(labels, minlength=cost.shape[1])
    for j in np.flatnonzero(sizes > capacity):
        members = np.flatnonzero(labels == j)
        room = sizes < capacity
        alt = np.where(room[None, :], cost[members], np.inf)
        regret = alt.min(axis=1) - cost[members, j]
        for i in members[np.argsort(regret, kind="stable")][: sizes[j] - capacity]:
            room = sizes < capacity
            target = int(np.argmin(np.where(room, cost[i], np.inf)))
            labels[i], sizes[j], sizes[target] = target, sizes[j] - 1, sizes[target] + 1
    return labels


def _heads(ids, points, labels, centres) -> tuple[str, ...]:
    heads = []
    for j in range(centres.shape[0]):
        members = np.flatnonzero(labels == j)
        if members.size == 0:
            raise CoordinationError(f"cluster {j} is empty: too many centres for the swarm")
        dist = ((points[members] - centres[j]) ** 2).sum(axis=1)
        best = min(members[dist == dist.min()], key=lambda i: ids[i])
        heads.append(ids[best])
    return tuple(heads)


def _lloyd(ids, x, centres, capacity, iterations) -> Clustering:
    labels = balanced_assignment(x, centres, capacity)
    for _ in range(iterations - 1):
        centres = np.array([x[labels == j].mean(axis=0) for j in range(centres.shape[0])])
        labels = balanced_assignment(x, centres, capacity)
    centres = np.array([x[labels == j].mean(axis=0) for j in range(centres.shape[0])])
    return Clustering(tuple(ids), labels, centres, _heads(ids, x, labels, centres), capacity)


def _check(ids, points, capacity) -> tuple[list[str], np.ndarray]:
    ids = list(ids)
    x = np.asarray(points, dtype=float)
    if x.ndim != 2 or x.shape[0] != len(ids) or len(ids) == 0:
        raise CoordinationError(f"need one position per agent, got {x.shape} for {len(ids)} ids")
    if len(set(ids)) != len(ids) or capacity < 1:
        raise CoordinationError(f"ids must be unique and capacity >= 1 (capacity {capacity})")
    order = np.argsort(ids, kind="stable")
    return [ids[i] for i in order], x[order]


def cluster(ids, points, capacity: int, *, iterations: int = 3, seed: int = 0) -> Clustering:
    """Balanced clustering of the agents ``ids`` at ``points`` into groups of <= ``capacity``.

    Centres start at ``k`` agents spread by farthest-point sampling (first one drawn
    with ``seed``).
    """
    ids, x = _check(ids, points, capacity)
    k = -(-len(ids) // capacity)
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(len(ids)))]
    dist = ((x - x[chosen[0]]) ** 2).sum(axis=1)
    for _ in range(k - 1):
        chosen.append(int(np.argmax(dist)))
        dist = np.minimum(dist, ((x - x[chosen[-1]]) ** 2).sum(axis=1))
    return _lloyd(ids, x, x[chosen], capacity, iterations)


def recluster(previous: Clustering, ids, points, *, iterations: int = 1) -> Clustering:
    """Clustering after a membership change, warm-started from ``previous`` centres."""
    ids, x = _check(ids, points, previous.capacity)
    k = -(-len(ids) // previous.capacity)
    centres = previous.centres
    if k < centres.shape[0]:  # drop the centres of the smallest groups
        keep = np.argsort(-previous.sizes, kind="stable")[:k]
        centres = centres[np.sort(keep)]
    while centres.shape[0] < k:  # add a centre at the agent farthest from all centres
        far = ((x[:, None, :] - centres[None]) ** 2).sum(axis=2).min(axis=1)
        centres = np.vstack([centres, x[np.argmax(far)]])
    return _lloyd(ids, x, centres, previous.capacity, iterations)
